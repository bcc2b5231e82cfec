DROP TABLE grant_events;
DROP TABLE grant_household;
DROP TABLE grant_applications;
DROP TABLE grant_shares;
DROP TABLE grant_terms;

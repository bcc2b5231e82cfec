DROP TABLE membership_events;
DROP TABLE memberships;
DROP TABLE member_no_counters;
DROP TABLE members;
DROP TABLE join_codes;
DROP TABLE staff_grants;
DROP TABLE org_closure;
DROP TABLE orgs;

DROP TABLE deployment;
DROP INDEX memberships_account;

DROP INDEX memberships_account;

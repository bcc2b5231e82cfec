DROP TABLE trusted_browsers;
DROP TABLE console_sessions;

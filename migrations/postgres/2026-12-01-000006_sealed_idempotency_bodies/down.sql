-- Nothing to restore: the dropped rows were short-lived retries.
SELECT 1;

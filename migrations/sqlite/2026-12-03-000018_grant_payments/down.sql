DROP TABLE grant_order_counts;
DROP TABLE grant_documents;
ALTER TABLE grant_applications DROP COLUMN orders_source;
ALTER TABLE grant_applications DROP COLUMN paid_at;
ALTER TABLE grant_applications DROP COLUMN batch_id;
DROP TABLE grant_payments;
DROP TABLE grant_batches;

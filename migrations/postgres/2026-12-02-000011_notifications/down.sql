DROP TABLE notification_opt_outs;
DROP TABLE notification_deliveries;
DROP TABLE notifications;

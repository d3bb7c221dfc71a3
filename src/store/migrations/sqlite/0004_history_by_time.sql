-- Raw messages, audit entries, redriven dead letters and received control numbers are
-- pruned by age (Store::prune).
CREATE INDEX raw_messages_by_time ON raw_messages (received_at);
CREATE INDEX audit_log_by_time ON audit_log (at);
CREATE INDEX dead_letters_by_redrive ON dead_letters (redriven_at) WHERE redriven_at IS NOT NULL;
CREATE INDEX received_control_numbers_by_time ON received_control_numbers (received_at);

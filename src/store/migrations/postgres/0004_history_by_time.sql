-- Raw messages, audit entries and redriven dead letters are pruned by age
-- (Store::prune).
CREATE INDEX raw_messages_by_time ON raw_messages (received_at);
CREATE INDEX audit_log_by_time ON audit_log (at);
CREATE INDEX dead_letters_by_redrive ON dead_letters (redriven_at) WHERE redriven_at IS NOT NULL;

-- Received control numbers are pruned by age (Store::prune).
CREATE INDEX received_control_numbers_by_time ON received_control_numbers (received_at);

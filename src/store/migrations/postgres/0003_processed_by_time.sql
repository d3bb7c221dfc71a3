-- Processed markers are pruned by age (Store::prune_processed).
CREATE INDEX processed_messages_by_time ON processed_messages (processed_at);

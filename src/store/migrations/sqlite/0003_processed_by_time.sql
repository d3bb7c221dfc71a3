-- Processed markers are pruned by age (Store::prune_processed).
CREATE INDEX processed_by_time ON processed (processed_at);

"""A test-only app whose migrations the release commands' tests apply and reverse. Each folder is
one history of its migrations (MIGRATION_MODULES picks one): the same first migration, then one
more of the kind a test needs."""

"""Import runs, the push pipeline, record matching and the job queue. Filled in by the import and
push issues."""

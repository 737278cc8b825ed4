"""shipyard pipelines: DAGs that do not know where they run."""

"""Platform adapters: thin translations between a platform and the pipeline."""

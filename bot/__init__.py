"""The application: configuration, store, pipeline and command line."""

"""Built-in plugins: indicators, quality checks and exporters, registered through the same
hooks as third-party plugins (see ``tsanalysis.plugins.DEFAULT_PLUGINS``)."""

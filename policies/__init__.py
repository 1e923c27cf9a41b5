"""Policy files (YAML) that ship with classmod."""

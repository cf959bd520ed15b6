"""The reviewflow domain: models, config, git hosts, analysis, LLM, artifact store."""

"""Stage 2: defaults, then the org/global file, then the repository's .reviewflow.yml."""

from shared import config as config_layers
from shared.config import CONFIG_FILE_NAME, ConfigError
from shared.contract import ERROR_INVALID_CONFIG
from workers.runtime import BusinessError, Router, StageContext, Variables, stage_task

JOB_TYPE = "reviewflow.resolve-config"
router = Router()


@stage_task(router, JOB_TYPE, ["commits"])
def resolve_config(ctx: StageContext, v: Variables) -> Variables:
    layers: list[tuple[str, str]] = []
    global_file = ctx.settings.global_config
    if global_file is not None:
        layers.append((f"global config {global_file}", global_file.read_text(encoding="utf-8")))
    repo_text = ctx.host.file_content(CONFIG_FILE_NAME, v["commits"]["headSha"])
    if repo_text is not None:
        layers.append((CONFIG_FILE_NAME, repo_text))
    try:
        config = config_layers.resolve_config(layers)
    except ConfigError as exc:
        # an expected business outcome: the diagram's error path tells the user
        raise BusinessError(ERROR_INVALID_CONFIG, str(exc)) from exc
    sources = ", ".join(name for name, _ in layers) or "built-in defaults"
    return {
        "config": config.model_dump(mode="json", by_alias=True),
        # the diagram's retry gateways read this scalar
        "heavyRetries": config.heavy_retries,
        "_detail": f"from {sources}",
    }

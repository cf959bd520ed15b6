"""Stage 4: changed files since the last reviewed commit, filtered, with contents."""

from shared.stages.intake import select_files
from workers.runtime import Router, StageContext, Variables, config_of, stage_task

JOB_TYPE = "reviewflow.fetch-changed-files"
router = Router()


@stage_task(router, JOB_TYPE, ["config", "commits"])
def fetch_changed_files(ctx: StageContext, v: Variables) -> Variables:
    commits = v["commits"]
    files = ctx.host.changed_files(commits["fromSha"], commits["headSha"])
    selection = select_files(files, config_of(v))
    skipped_id = ctx.store.put(ctx.run_id, "skipped", list(selection.skipped))
    if selection.refused is not None:
        return {
            "proceed": False,
            "skipReason": selection.refused,
            "skippedArtifact": skipped_id,
            "_detail": selection.refused,
        }
    if not selection.kept:
        reason = f"no reviewable files ({len(selection.skipped)} changed file(s) skipped)"
        return {
            "proceed": False,
            "skipReason": reason,
            "skippedArtifact": skipped_id,
            "_detail": reason,
        }
    # one batched read (on GitHub one GraphQL call per 50 files), not a request per file
    texts = ctx.host.read_files([f.path for f in selection.kept], commits["headSha"])
    with_content = [f.model_copy(update={"content": texts.get(f.path)}) for f in selection.kept]
    files_id = ctx.store.put(ctx.run_id, "files", with_content)
    detail = f"{len(with_content)} file(s) to review, {len(selection.skipped)} skipped"
    return {
        "proceed": True,
        "skipReason": None,
        "filesArtifact": files_id,
        "skippedArtifact": skipped_id,
        "fileCount": len(with_content),
        "_detail": detail,
    }

"""The steps of train.py that change or show the corpus and the model versions: --add (a
recorded batch), --undo-add, --list, --rollback and --audit. nlp.cli parses the arguments."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nlp.cli_zh import command
from nlp.errors import UserError


def _say(message: str) -> None:
    typer.echo(message, err=True)


def list_versions(registry, corpus_path: Path) -> None:
    from nlp import batches

    current = registry.current()
    rows = registry.versions()
    if not rows:
        typer.echo(f"还没有任何模型版本。运行 {command('train.py')} 训练。")
    for m in rows:
        mark = "*" if m["version"] == current else " "
        head = "，".join(f"{k} {v:.3f}" for k, v in m.get("headline", {}).items())
        batch = f"  含批次 {m['batch']}" if m.get("batch") else ""
        typer.echo(f"{mark} {m['version']}  语料 {m.get('corpus_rows', '?')} 行{batch}  {head}")
    if rows:
        typer.echo("（* 为当前使用的版本；数字为 test 划分 macro-F1）")
    journal = batches.read_journal(corpus_path)
    if journal:
        typer.echo(f"语料 {corpus_path} 的追加批次（可用 --undo-add 批次号 撤销）：")
        for e in journal:
            typer.echo(batches.describe(e))


def rollback(registry, corpus_path: Path) -> None:
    """The model goes back one version; the corpus is left as it is, and we say so."""
    from nlp import batches

    old, new = registry.rollback()
    typer.echo(f"已回退：当前模型由 {old or '（无）'} 改为 {new}。")
    left = [e for e in batches.read_journal(corpus_path)
            if e.get("model") == old and not e.get("undone") and e.get("rows") is not None]
    for e in left:
        typer.echo(f"注意：回退只换模型，语料未改动：批次 {e['batch']}（{e.get('file', '')}，新增 {len(e['rows'])} 行，"
                   f"改标 {len(e.get('changes', []))} 处）仍在语料中，下次训练会用到。"
                   f"如要一并撤销：{command('train.py')} --undo-add {e['batch']}")


def undo_add(registry, corpus_path: Path, batch: str) -> None:
    """Take a batch out of the corpus; when the model it trained is the current one, go back to
    the model that was current before it."""
    from nlp import batches, corpus as corpus_mod, training

    df = corpus_mod.read_corpus(corpus_path)
    out, entry, notes = batches.undo(df, corpus_path, batch)
    removed = len(df) - len(out)
    training.write_corpus(out, corpus_path)
    batches.mark_undone(corpus_path, batch)
    typer.echo(f"已撤销批次 {batch}（{entry.get('file', '')}）：从语料删除 {removed} 行，"
               f"恢复 {len(entry.get('changes', [])) - len(notes)} 处改动前的标注。")
    for n in notes:
        typer.echo(f"  {n}")
    if removed == 0 and entry.get("rows"):
        typer.echo("  （语料中已没有此批次的行：可能那次训练中途被中断，语料没有写入。）")
    current, model, before = registry.current(), entry.get("model"), entry.get("model_before")
    retrain = f"请运行 {command('train.py')} 用现在的语料重新训练"
    if model and current == model:
        try:
            if not before:
                raise UserError("no model before")
            registry.use(before)
            typer.echo(f"模型也已换回 {before}（此批次之前使用的版本）。")
        except UserError:
            typer.echo(f"当前模型 {current} 是用此批次训练的，之前没有可用的版本；{retrain}。")
    elif model and current and current > model:  # version names sort by time
        typer.echo(f"当前模型 {current} 是在此批次之后训练的，仍学过它的标签；如需去掉，{retrain}。")
    else:
        typer.echo(f"当前模型 {current or '（无）'} 没有学过此批次，保持不变。")


def report_audit(found, out: Optional[Path], taxonomy) -> None:
    from nlp import review

    if found.empty:
        typer.echo("没有发现与交叉验证预测明显矛盾的标注。")
        return
    found = review.rank(found, taxonomy)
    typer.echo(f"发现 {len(found)} 处可能标错的标注（模型在交叉验证中有把握地给出了不同标签），按可能性从高到低排列，请人工复核：")
    if out:
        review.write_audit(found, out)
        typer.echo(f"已写入 {out}。在“{review.CONCLUSION}”列填“维持”“改为模型判断”或“改为 代码”，在“{review.REVIEWER}”列署名，"
                   f"然后运行 {command('train.py')} --add {out}：只改填了结论的语料行（按 id），不会重复添加。")
    else:
        for r in found.head(50).itertuples(index=False):
            typer.echo(f"  {r.序号}. {r.id}  {r.头部}：标注 {r.现有标注} → 模型 {r.模型判断}（{r.模型置信度:.0%}）  {r.text[:60]}")
        if len(found) > 50:
            typer.echo(f"  ……共 {len(found)} 处")
        typer.echo("用 --audit-out 复核.xlsx 导出带“复核结论”列的复核表，填好后用 --add 读回。")


def train_with_added(registry, corpus_path, add, prefer, force, tolerance, seed, backend, taxonomy,
                     trust_labels) -> None:
    from nlp import batches, training
    from nlp import corpus as corpus_mod
    from nlp.registry import ModelMismatch
    from nlp.report import evaluate, headline

    base = corpus_mod.read_corpus(corpus_path)
    batch = batches.new_batch_id(corpus_path)
    merge = training.merge_labeled(base, add, taxonomy, prefer, trust_labels, batch=batch)
    for msg in merge.notes:
        _say(msg)
    if merge.unreviewed:
        _say(f"{merge.unreviewed} 行已填标签但未标为“已核对”，未加入语料（模型只学习人工确认的标签）。")
    for msg in merge.duplicates:
        _say(f"重复：{msg}")
    for msg in merge.conflicts:
        _say(f"冲突（按 --prefer {prefer} 处理）：{msg}")
    if merge.unlabeled:
        _say(f"{merge.unlabeled} 行未填写标签，已跳过。")
    if merge.added.empty and not merge.changes:
        typer.echo("没有新的行需要添加，也没有要改的标注，语料和模型保持不变。")
        return
    _say(f"通过校验：新增 {len(merge.added)} 行，改动 {len(merge.changes)} 处标注。正在训练新模型并与当前模型对比……")
    current = None
    if registry.current():
        try:
            current = registry.load()
        except ModelMismatch:
            current = None
    result = training.build(corpus_path, seed, backend, registry, df=merge.frame, log=_say, note={"batch": batch})
    drops = []
    if current is not None:
        test = merge.frame[merge.frame["split"] == "test"]
        cols = training.label_columns(taxonomy, merge.frame)
        old_test = headline(evaluate(current, test["text"].tolist(), test[cols]))
        drops += training.compare(result.info["headline"], old_test, tolerance, "固定 test 划分上")
        new_added, old_added = training.added_rows_comparison(
            merge.frame, merge.added["id"].tolist(), current, taxonomy, seed, backend, None)
        drops += training.compare(new_added, old_added, tolerance, "新增行的留出折上")
        typer.echo("新旧模型对比（macro-F1）：")
        for head, new_v in result.info["headline"].items():
            typer.echo(f"  test 划分 {head}：旧 {old_test.get(head, float('nan')):.3f} → 新 {new_v:.3f}")
        for head, new_v in new_added.items():
            typer.echo(f"  新增行留出折 {head}：旧 {old_added.get(head, float('nan')):.3f} → 新 {new_v:.3f}")
    record = batches.Batch(batch, Path(add).name, merge.added["id"].astype(str).tolist(), merge.changes,
                           [str(c) for c in base.columns])
    record.record(corpus_path, batches.file_digest(corpus_path), registry.current())
    training.write_corpus(merge.frame, corpus_path)
    batches.update(corpus_path, batch, model=result.version)
    typer.echo(f"已并入语料 {corpus_path}：批次 {batch}，新增 {len(merge.added)} 行，改动 {len(merge.changes)} 处标注。"
               f"撤销这一步：{command('train.py')} --undo-add {batch}")
    if drops and not force:
        typer.echo(f"新模型 {result.version} 未启用，当前模型保持 {registry.current()}：")
        for d in drops:
            typer.echo(f"  {d}（容差 {tolerance}）")
        typer.echo(f"如确认要启用，可加 --force 重新运行，或用 {command('train.py')} --use {result.version} 启用。")
        raise typer.Exit(3)
    registry.promote(result.version)
    batches.update(corpus_path, batch, enabled=True)
    typer.echo(f"新模型 {result.version} 已启用{'（--force）' if drops else ''}。"
               f"可用 {command('train.py')} --rollback 回退模型（语料不变），或 --undo-add {batch} 连同语料一起撤销。")

"""The classification heads of ``ClueClassifier`` (nlp/model.py): learners, fitting on grouped folds,
decision rules, evidence words and the per-head settings read from nlp/data/heads.toml."""

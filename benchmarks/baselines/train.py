"""Fine-tuning baseline: a plain transformers ``Trainer`` with ``DataCollatorWithPadding``.

What a user without genomefactory writes for a sequence-classification fine-tune of Nucleotide Transformer:
tokenize the CSV rows (truncating to the model maximum), ``EsmForSequenceClassification`` holding the same
backbone weights as the project's model, ``DataCollatorWithPadding``, ``Trainer`` with the same epochs, batch
size, learning rate, schedule and clipping, evaluation on dev each epoch, the model saved at the end and the test
split predicted. ``group_by_length`` is what a careful user turns on for mixed lengths (the suite's grouped and
packed rows use it; the padded row does not).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np


def read_split(path: Path) -> tuple[list[str], list[int]]:
    with path.open() as fh:
        rows = list(csv.DictReader(fh))
    return [r["sequence"] for r in rows], [int(r["label"]) for r in rows]


def hf_trainer_run(
    data: Path, out: Path, backbone: Any, epochs: int, batch: int, lr: float, group_by_length: bool
) -> dict[str, float]:
    import torch
    import transformers
    from torch.utils.data import Dataset

    from .embed import transformers_esm

    tok = backbone.tokenizer
    max_len = backbone.max_tokens

    class Rows(Dataset):  # type: ignore[type-arg]
        def __init__(self, split: str) -> None:
            seqs, labels = read_split(data / f"{split}.csv")
            enc = tok(seqs, truncation=True, max_length=max_len)
            self.items = [
                {"input_ids": ids, "attention_mask": m, "labels": y}
                for ids, m, y in zip(enc["input_ids"], enc["attention_mask"], labels, strict=True)
            ]

        def __len__(self) -> int:
            return len(self.items)

        def __getitem__(self, i: int) -> dict[str, Any]:
            return self.items[i]

    cfg = transformers.EsmConfig(**backbone.config, num_labels=2)
    model = transformers.EsmForSequenceClassification(cfg)
    model.esm.load_state_dict(transformers_esm(backbone).state_dict())
    args = transformers.TrainingArguments(
        output_dir=str(out),
        num_train_epochs=epochs,
        per_device_train_batch_size=batch,
        per_device_eval_batch_size=batch,
        learning_rate=lr,
        weight_decay=0.01,
        warmup_steps=0.05,  # transformers 5: a float < 1 is a ratio of the steps
        max_grad_norm=1.0,
        eval_strategy="epoch",
        save_strategy="no",
        logging_steps=10,
        report_to=[],
        disable_tqdm=True,
        train_sampling_strategy="group_by_length" if group_by_length else "random",
        use_cpu=not torch.cuda.is_available(),
        seed=42,
    )
    splits = {s: Rows(s) for s in ("train", "dev", "test")}

    def metrics(p: Any) -> dict[str, float]:
        return {"accuracy": float((np.argmax(p.predictions, -1) == p.label_ids).mean())}

    trainer = transformers.Trainer(
        model=model,
        args=args,
        train_dataset=splits["train"],
        eval_dataset=splits["dev"],
        data_collator=transformers.DataCollatorWithPadding(tok),
        compute_metrics=metrics,
    )
    trainer.train()
    trainer.save_model(str(out / "final"))
    pred = trainer.predict(splits["test"])
    return {"test_accuracy": float((np.argmax(pred.predictions, -1) == pred.label_ids).mean())}

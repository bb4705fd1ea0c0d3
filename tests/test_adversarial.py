"""Adversarial training on word embeddings (train/adversarial.py and the Trainer's use of it)."""

import json

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

from gatedrnn.cli import main
from gatedrnn.data.batching import collate
from gatedrnn.models.classifier import ClassifierConfig, SentimentClassifier
from gatedrnn.train import checkpoint
from gatedrnn.train.adversarial import EmbeddingAdversary
from gatedrnn.train.loop import Encoded, FitConfig, Trainer


def small_model(seed: int = 0) -> SentimentClassifier:
    torch.manual_seed(seed)
    # no dropout: the clean and the adversarial pass see the same network
    return SentimentClassifier(ClassifierConfig(
        vocab_size=30, embedding_dim=6, hidden_size=5, num_layers=1, bidirectional=True,
        dropout=0.0, pooling="attention", padding_idx=0))


def small_batch(seed: int = 1):
    generator = torch.Generator().manual_seed(seed)
    sequences = [torch.randint(1, 30, (n,), generator=generator).tolist() for n in (7, 4, 9)]
    return collate(sequences, [1, 0, 1], list(range(3)))


def clean_then_perturbation(model, batch, epsilon):
    adversary = EmbeddingAdversary(model, epsilon)
    with adversary.watching():
        loss = F.cross_entropy(model(batch.tokens, batch.lengths), batch.labels)
    loss.backward()
    embedded = adversary._embedded.detach().clone()
    gradient = adversary._embedded.grad.clone()
    return adversary, adversary.perturbation(batch.lengths), embedded, gradient, loss.item()


def test_perturbation_follows_each_reviews_gradient_with_the_relative_size():
    model, batch = small_model(), small_batch()
    _, perturbation, embedded, gradient, _ = clean_then_perturbation(model, batch, 0.5)
    real = torch.arange(batch.tokens.shape[1])[None, :] < batch.lengths[:, None]
    token_norm = embedded.norm(dim=-1)[real].mean()
    for review in range(3):
        r, g = perturbation[review].flatten(), gradient[review].flatten()
        assert r.norm() == pytest.approx(0.5 * float(token_norm), rel=1e-5)
        assert F.cosine_similarity(r, g, dim=0) == pytest.approx(1.0, abs=1e-5)
    # padding gets no gradient, so no push
    assert perturbation[~real].abs().max() == 0


def test_the_push_raises_the_loss_and_a_random_one_of_the_same_size_less():
    model, batch = small_model(), small_batch()
    adversary, perturbation, _, _, clean = clean_then_perturbation(model, batch, 0.2)
    with torch.no_grad(), adversary.perturbed(perturbation):
        pushed = F.cross_entropy(model(batch.tokens, batch.lengths), batch.labels).item()
    random = torch.randn(perturbation.shape, generator=torch.Generator().manual_seed(0))
    random *= (perturbation.flatten(1).norm(dim=1) / random.flatten(1).norm(dim=1))[:, None, None]
    with torch.no_grad(), adversary.perturbed(random):
        randomly = F.cross_entropy(model(batch.tokens, batch.lengths), batch.labels).item()
    assert pushed > clean and pushed - clean > abs(randomly - clean)
    # the hooks are gone afterwards: the model is itself again
    with torch.no_grad():
        again = F.cross_entropy(model(batch.tokens, batch.lengths), batch.labels).item()
    assert again == pytest.approx(clean, abs=1e-6)


def test_a_frozen_embedding_still_gets_its_perturbation():
    model, batch = small_model(), small_batch()
    model.embedding.weight.requires_grad_(False)
    _, perturbation, _, gradient, _ = clean_then_perturbation(model, batch, 0.3)
    assert gradient.abs().sum() > 0 and perturbation.abs().sum() > 0
    assert model.embedding.weight.grad is None


def test_trainer_step_adds_the_clean_and_the_adversarial_gradients(tmp_path):
    batch = small_batch()
    sequences = [batch.tokens[i, :n].tolist() for i, n in enumerate(batch.lengths.tolist())]
    data = Encoded(sequences, batch.labels.tolist())
    config = FitConfig(epochs=1, batch_size=3, clip=None, adversarial=0.4)
    trainer = Trainer(small_model(), config, data, data, tmp_path, {"model": {}}, ["<pad>"],
                      show_progress=False, log=lambda m: None)
    trainer.optimizer.step = lambda: None   # keep the weights, read the gradients
    metrics = trainer._train_epoch(trainer.model)

    expected = small_model()
    ordered = collate(sequences, batch.labels.tolist(), list(range(3)))  # the trainer's batch
    adversary, perturbation, _, _, clean = clean_then_perturbation(expected, ordered, 0.4)
    with adversary.perturbed(perturbation):
        pushed = F.cross_entropy(expected(ordered.tokens, ordered.lengths), ordered.labels)
    pushed.backward()
    for (name, got), want in zip(trainer.model.named_parameters(), expected.parameters()):
        torch.testing.assert_close(got.grad, want.grad, rtol=1e-5, atol=1e-7, msg=name)
    assert metrics["train_loss"] == pytest.approx(clean, rel=1e-5)
    assert metrics["train_adversarial_loss"] == pytest.approx(pushed.item(), rel=1e-5)
    assert metrics["train_adversarial_loss"] > metrics["train_loss"]


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="adversarial"):
        FitConfig(adversarial=-0.1)
    with pytest.raises(ValueError, match="no nn.Embedding named 'embedding'"):
        EmbeddingAdversary(torch.nn.Linear(3, 2), 0.3)
    with pytest.raises(ValueError, match="> 0"):
        EmbeddingAdversary(small_model(), 0.0)
    adversary = EmbeddingAdversary(small_model(), 0.3)
    with pytest.raises(RuntimeError, match="no gradient reached the embedding"):
        adversary.perturbation(torch.tensor([3]))


def test_cli_trains_adversarially_and_records_both_losses(tmp_path, imdb_archive):
    out = tmp_path / "adversarial"
    result = CliRunner().invoke(main, [
        "sentiment", "train", "--data", str(imdb_archive), "--preset", "tiny", "--out", str(out),
        "--epochs", "2", "--adversarial", "0.3", "--json"])
    assert result.exit_code == 0, result.output
    history = json.loads(result.stdout)["history"]
    assert all(e["train_adversarial_loss"] > 0 for e in history)
    assert checkpoint.load_training_state(out / "last")["fit_config"]["adversarial"] == 0.3
    result = CliRunner().invoke(main, [
        "sentiment", "train", "--data", str(imdb_archive), "--preset", "tiny", "--out",
        str(tmp_path / "x"), "--adversarial", "0"])
    assert result.exit_code != 0 and "--adversarial" in result.output

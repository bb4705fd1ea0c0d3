import pytest
import torch

from gatedrnn.data import synthetic


@pytest.mark.parametrize("name", list(synthetic.TASKS))
def test_same_seed_same_data_other_seed_other_data(name):
    a = synthetic.make_task(name, 8, 12, seed=3)
    b = synthetic.make_task(name, 8, 12, seed=3)
    c = synthetic.make_task(name, 8, 12, seed=4)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert not torch.equal(a.x, c.x)
    assert a.x.dtype == torch.float32 and a.x.dim() == 3 and a.x.shape[0] == 8


def test_evaluation_set_differs_from_training_batches():
    evaluation = synthetic.evaluation_set("first-token-recall", 64, 10)
    train = synthetic.make_task("first-token-recall", 64, 10, seed=0)
    assert not torch.equal(evaluation.y, train.y)


def test_first_token_recall_label_is_the_first_one_hot():
    task = synthetic.first_token_recall(50, 7, num_classes=5, seed=1)
    assert task.x.shape == (50, 7, 5) and task.target == "last_class"
    assert torch.equal(task.x[:, 0].argmax(1), task.y)
    assert torch.equal(task.x[:, 0].sum(1), torch.ones(50))
    assert task.x[:, 1:].abs().sum() == 0
    noisy = synthetic.first_token_recall(50, 7, num_classes=5, noise=0.1, seed=1)
    assert torch.equal(noisy.y, task.y) and noisy.x[:, 1:].abs().sum() > 0


def test_adding_problem_target_is_the_sum_of_the_two_marked_values():
    task = synthetic.adding_problem(40, 30, seed=2)
    values, markers = task.x[..., 0], task.x[..., 1]
    assert torch.equal(markers.sum(1), torch.full((40,), 2.0))
    first_half = markers[:, :15].sum(1)
    assert torch.equal(first_half, torch.ones(40))  # one marker in each half
    torch.testing.assert_close((values * markers).sum(1), task.y)


def test_copy_memory_targets_are_the_leading_symbols():
    task = synthetic.copy_memory(6, 5, num_symbols=8, copy_length=4, seed=0)
    tokens = task.x.argmax(2)
    assert task.x.shape == (6, 4 + 5 + 4, 10)
    assert torch.equal(task.y[:, -4:], tokens[:, :4])
    assert (task.y[:, :-4] == -100).all()
    assert (tokens[:, 4 + 5 - 1] == 9).all()  # the delimiter
    assert ((tokens[:, :4] >= 1) & (tokens[:, :4] <= 8)).all()


def test_future_context_labels_match_a_direct_count():
    task = synthetic.future_context(5, 9, num_symbols=3, seed=7)
    tokens = task.x.argmax(2)
    for b in range(5):
        for t in range(9):
            again = bool((tokens[b, t + 1:] == tokens[b, t]).any())
            assert task.y[b, t].item() == int(again)
    assert (task.y[:, -1] == 0).all()


def test_bad_task_arguments():
    with pytest.raises(ValueError, match="length must be >= 2, got 1"):
        synthetic.adding_problem(4, 1)
    with pytest.raises(ValueError, match="n must be >= 1"):
        synthetic.first_token_recall(0, 5)
    with pytest.raises(ValueError, match="unknown task 'xor'"):
        synthetic.make_task("xor", 4, 5)

"""The HTTP API and its page: predict, tag and explain with trained checkpoints.

    gatedrnn serve runs/sentiment runs/tagger --port 8000
    curl -X POST localhost:8000/predict -H 'content-type: application/json' \\
         -d '{"texts": ["A wonderful film."]}'

Models are loaded once, at start-up. Forward passes run one at a time on the event loop's own
thread (the main thread under uvicorn), not in a worker thread: torch already spreads one pass
over both cores, and on this CPU build a pass made from any other thread than the one that
first used torch's OpenMP pool ran at single-core speed (64 reviews: 140 vs 285 reviews/s in
one process; the server ran 4× slower than in-process prediction until this change, measured
with benchmarks/serve_load.py). Running passes in turn also makes concurrent requests safe
whatever the model does internally. /predict and /tag requests that arrive while a pass runs
share the next one (serve/batching.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__, registry
from ..train import checkpoint
from .batching import MicroBatcher

MAX_TEXTS = 256          # texts per request
MAX_CHARS = 20_000       # characters per text (a long review is ~13,000)
# Reviews of one pass are sorted by length and run in batches of this size: with the mixed
# lengths of a few requests, small batches waste less on padding (128 random IMDb reviews per
# call, fast preset: 16 → 438, 64 → 385, 128 → 327 reviews/s in one process).
PREDICT_BATCH = 16
DEFAULT_CHECKPOINTS = (Path("runs/sentiment"), Path("runs/tagger"))


@dataclass
class LoadedModel:
    name: str
    task: str            # its task's name (gatedrnn.registry)
    path: str
    model: object        # what the registry loaded: a sentiment Predictor, a Tagger, ...
    kind: str = ""       # its model kind


def load_models(paths: list[Path], onnx: bool = False,
                calibrated: bool = True) -> list[LoadedModel]:
    """Each checkpoint (a training output directory or a checkpoint directory), by its task and
    kind (gatedrnn.registry); a task with no HTTP route is refused.

    With ``onnx``, kinds that can run in onnxruntime are exported at start-up and answer from
    it (a sentiment classifier: 2–2.6× faster on this CPU, benchmarks/onnx_speed.py); /explain
    still uses PyTorch, which it needs for gradients and gates. Other kinds (n-gram,
    document-vector, ensembles, taggers) stay in PyTorch. ``calibrated=False`` serves raw
    scores (no temperature).
    """
    loaded, names = [], set()
    for path in paths:
        directory, _, kind = registry.open_checkpoint(path)
        task = registry.task(kind.task)
        if task.route is None:
            raise checkpoint.CheckpointError(
                f"{directory} is {task.noun}, which the server has no route for; serve "
                f"{' or '.join(t.noun for t in registry.tasks().values() if t.route)}")
        if onnx and kind.onnx_runtime is not None:
            model = _onnx_model(directory, calibrated)
        else:
            model = registry.load(directory, calibrated=calibrated)
        name = Path(path).name if Path(path).name not in ("best", "last") else \
            Path(path).parent.name
        while name in names:
            name += "'"
        names.add(name)
        loaded.append(LoadedModel(name, kind.task, str(directory), model, kind.name))
    return loaded


def _onnx_model(directory: Path, calibrated: bool = True):
    import atexit
    import shutil
    import tempfile

    from ..export import onnx_runtime_model

    work = tempfile.mkdtemp(prefix="gatedrnn-onnx-")
    atexit.register(shutil.rmtree, work, ignore_errors=True)
    return onnx_runtime_model(directory, work, calibrated)


def default_checkpoints() -> list[Path]:
    """What `sentiment train` and `tagger train` write by default, where present."""
    found = [p for p in DEFAULT_CHECKPOINTS if (p / "best" / "config.json").exists()]
    if not found:
        raise checkpoint.CheckpointError(
            "no checkpoint to serve: pass one (gatedrnn serve PATH), or train one first with "
            "'gatedrnn sentiment train --data aclImdb_v1.tar.gz --preset fast' (it writes "
            "runs/sentiment) or 'gatedrnn tagger train --data UD_FOLDER' (runs/tagger)")
    return found


# ---- request and response bodies -------------------------------------------------------------


class PredictRequest(BaseModel):
    texts: list[str] = Field(..., description=f"1 to {MAX_TEXTS} texts, each at most "
                             f"{MAX_CHARS:,} characters")
    model: str | None = Field(None, description="model name (see /health); default: the first "
                              "model that answers /predict (a text classifier)")
    min_confidence: float | None = Field(
        None, ge=0, le=1, description="label a text 'uncertain' when its (calibrated) "
        "confidence is below this; its most likely label is then in best_guess")


class Prediction(BaseModel):
    label: str
    confidence: float
    probabilities: dict[str, float]
    empty: bool
    uncertain: bool | None = None
    best_guess: str | None = None
    labels: list[str] | None = Field(None, description="a multi-label model's answer: every "
                                     "class at or above its threshold")
    known_tokens: float | None = Field(None, description="the share of the text's tokens the "
                                       "model's vocabulary knows")
    out_of_vocabulary: bool | None = Field(None, description="too few known tokens to read "
                                           "the text: label is 'out-of-vocabulary'")


class PredictResponse(BaseModel):
    model: str
    predictions: list[Prediction]


class TagRequest(BaseModel):
    texts: list[str] | None = Field(None, description="raw texts, tokenised by gatedrnn "
                                    "as the tagger's treebank is (English: UD EWT's conventions; "
                                    "Japanese: UniDic short-unit words)")
    tokens: list[list[str]] | None = Field(None, description="pre-tokenised sentences")
    model: str | None = None


class TaggedSentence(BaseModel):
    tokens: list[str]
    upos: list[str]
    xpos: list[str]
    upos_confidence: list[float] = Field(..., description="each UPOS tag's calibrated "
                                         "probability")


class TagResponse(BaseModel):
    model: str
    sentences: list[TaggedSentence]


class EntitiesRequest(BaseModel):
    texts: list[str] = Field(..., description="raw texts, cut into tokens as the model's "
                             "training text was (any language)")
    model: str | None = None


class Entity(BaseModel):
    type: str
    text: str
    start: int = Field(..., description="character offset: text[start:end] is the entity")
    end: int
    confidence: float = Field(..., description="the least CRF marginal probability of its "
                              "tokens' tags")


class EntitiesResult(BaseModel):
    text: str
    entities: list[Entity]


class EntitiesResponse(BaseModel):
    model: str
    results: list[EntitiesResult]


class ExplainRequest(BaseModel):
    text: str = Field(..., description=f"one text, at most {MAX_CHARS:,} characters")
    model: str | None = None
    units: int = Field(8, ge=0, le=64, description="hidden units to return")


class Error(BaseModel):
    error: str


# ---- the app --------------------------------------------------------------------------------


def create_app(models: list[LoadedModel]) -> FastAPI:
    if not models:
        raise ValueError("create_app needs at least one loaded model")
    app = FastAPI(title="gatedrnn", version=__version__,
                  description="Sentiment prediction, POS tagging and explanations with gated "
                              "recurrent networks. The page at / shows the gates at work.")
    static = resources.files("gatedrnn.serve") / "static"
    # Forward passes run on this (the event loop's) thread, blocking it: see the module
    # docstring for why. /predict and /tag go through one micro-batcher per model.
    batchers: dict[tuple[str, str], MicroBatcher] = {}
    # which tasks answer which route ("predict": text classifiers, sentiment's among them;
    # "tag": taggers), as the tasks declare
    nouns = {}
    for declared in registry.tasks().values():
        nouns.setdefault(declared.route, []).append(declared.noun)

    def batcher(model: LoadedModel) -> MicroBatcher:
        key = (model.task, model.name)
        if key not in batchers:
            # the task names the method that answers its route (predict, tag)
            task = registry.task(model.task)
            run = getattr(model.model, task.answer)
            if task.route == "predict":  # texts of mixed lengths: small sorted batches
                run = partial(run, batch_size=PREDICT_BATCH)
            batchers[key] = MicroBatcher(run, max_items=MAX_TEXTS)
        return batchers[key]

    def pick(route: str, name: str | None) -> LoadedModel:
        candidates = [m for m in models if registry.task(m.task).route == route]
        if name is not None:
            chosen = [m for m in candidates if m.name == name]
            if not chosen:
                raise HTTPException(404, f"no model named {name!r} answers /{route}; "
                                         "available: "
                                         f"{', '.join(m.name for m in candidates) or 'none'}")
            return chosen[0]
        if not candidates:
            wanted = " or ".join(nouns.get(route, ["a model"]))
            raise HTTPException(404, f"this server has no model for /{route}; start it with "
                                     f"{wanted} (gatedrnn serve PATH)")
        return candidates[0]

    def check_texts(texts: list[str]) -> None:
        if not texts:
            raise HTTPException(422, "texts is empty: send at least one text")
        if len(texts) > MAX_TEXTS:
            raise HTTPException(413, f"{len(texts)} texts in one request; the limit is "
                                     f"{MAX_TEXTS}: split the batch")
        for index, text in enumerate(texts):
            if len(text) > MAX_CHARS:
                raise HTTPException(413, f"text {index} has {len(text):,} characters; the limit "
                                         f"is {MAX_CHARS:,}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid_body(request: Request, exc: RequestValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                             for e in exc.errors())
        return JSONResponse({"error": f"invalid request: {problems}",
                             "detail": jsonable_encoder(exc.errors())}, status_code=422)

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "version": __version__,
                "models": [{"name": m.name, "task": m.task, "kind": m.kind, "path": m.path,
                            "route": registry.task(m.task).route,
                            "explains": registry.kind(m.task, m.kind).explains}
                           for m in models]}

    @app.post("/predict", response_model=PredictResponse, response_model_exclude_none=True,
              responses={404: {"model": Error}, 413: {"model": Error}, 422: {"model": Error}})
    async def predict(request: PredictRequest):
        from ..sentiment import abstain

        check_texts(request.texts)
        chosen = pick("predict", request.model)
        predictions = await batcher(chosen).submit(request.texts)
        if request.min_confidence is not None:
            predictions = [abstain(p, request.min_confidence) for p in predictions]
        return {"model": chosen.name, "predictions": predictions}

    @app.post("/tag", response_model=TagResponse,
              responses={404: {"model": Error}, 413: {"model": Error}, 422: {"model": Error}})
    async def tag(request: TagRequest):
        from ..tagging import tokenize

        if (request.texts is None) == (request.tokens is None):
            raise HTTPException(422, "send either texts (raw) or tokens (pre-tokenised)")
        chosen = pick("tag", request.model)
        if request.texts is not None:
            check_texts(request.texts)
            sentences = [tokens for text in request.texts
                         for tokens in tokenize(text, chosen.model.language)]
        else:
            check_texts([" ".join(s) for s in request.tokens])
            if any(not token for s in request.tokens for token in s):
                raise HTTPException(422, "tokens must be non-empty strings")
            sentences = request.tokens
        tagged = await batcher(chosen).submit(sentences)
        return {"model": chosen.name, "sentences": tagged}

    @app.post("/entities", response_model=EntitiesResponse,
              responses={404: {"model": Error}, 413: {"model": Error}, 422: {"model": Error}})
    async def find_entities(request: EntitiesRequest):
        check_texts(request.texts)
        chosen = pick("entities", request.model)
        return {"model": chosen.name, "results": await batcher(chosen).submit(request.texts)}

    @app.post("/explain", responses={404: {"model": Error}, 413: {"model": Error},
                                     422: {"model": Error}})
    async def explain_text(request: ExplainRequest):
        from ..analysis.explain import explain

        check_texts([request.text])
        chosen = pick("predict", request.model)
        try:
            result = explain(chosen.model, request.text, units=request.units)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc
        return {"model": chosen.name, **result}

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(str(static / "index.html"))

    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    return app


def build(paths: list[str | Path] | None = None, onnx: bool = False,
          calibrated: bool = True) -> FastAPI:
    """The app for ``paths`` (or the default checkpoints)."""
    return create_app(load_models([Path(p) for p in paths] if paths else default_checkpoints(),
                                  onnx=onnx, calibrated=calibrated))

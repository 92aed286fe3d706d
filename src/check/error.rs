//! Everything the checker reports. One variant per problem, each with a stable code; codes are
//! grouped by what they are about (`name`, `arg`, `shape`, `graph`, `data`, `augment`, `train`,
//! `loss`, `metric`, `schedule`, `finetune`), never by where in the checker they are found.

use miette::{Diagnostic, SourceSpan};
use thiserror::Error;

#[derive(Debug, Error, Diagnostic)]
pub enum CheckError {
    // ── names ──────────────────────────────────────────────────────────────────────────────
    #[error("unknown {what} `{name}`")]
    #[diagnostic(code(trainc::name::unknown), help("{help}"))]
    UnknownName {
        what: String,
        name: String,
        help: String,
        #[label("not defined")]
        at: SourceSpan,
    },

    #[error("`{name}` is {found}, but {expected} is needed here")]
    #[diagnostic(code(trainc::name::wrong_kind), help("{help}"))]
    WrongKind {
        name: String,
        found: String,
        expected: String,
        help: String,
        #[label("{found}")]
        at: SourceSpan,
    },

    // ── arguments ──────────────────────────────────────────────────────────────────────────
    #[error("`{callee}` has no argument `{name}`")]
    #[diagnostic(code(trainc::arg::unknown), help("{help}"))]
    UnknownArg {
        callee: String,
        name: String,
        help: String,
        #[label("unknown argument")]
        at: SourceSpan,
    },

    #[error("`{callee}` is missing its argument `{name}`")]
    #[diagnostic(code(trainc::arg::missing), help("the signature is `{signature}`"))]
    MissingArg {
        callee: String,
        name: String,
        signature: String,
        #[label("`{name}` is required")]
        at: SourceSpan,
    },

    #[error("`{callee}` is given `{name}` twice")]
    #[diagnostic(code(trainc::arg::duplicate), help("remove one of them"))]
    DuplicateArg {
        callee: String,
        name: String,
        #[label("given again here")]
        at: SourceSpan,
    },

    #[error("`{callee}` takes at most {max} positional arguments")]
    #[diagnostic(code(trainc::arg::too_many), help("the signature is `{signature}`; name the others"))]
    TooManyArgs {
        callee: String,
        max: usize,
        signature: String,
        #[label("one too many")]
        at: SourceSpan,
    },

    #[error("`{name}` of `{callee}` must be {expected}, found {found}")]
    #[diagnostic(code(trainc::arg::wrong_type), help("{help}"))]
    ArgType {
        callee: String,
        name: String,
        expected: String,
        found: String,
        help: String,
        #[label("{found}")]
        at: SourceSpan,
    },

    #[error("`{name}` of `{callee}` must be {bound}, found {value}")]
    #[diagnostic(code(trainc::arg::range), help("{help}"))]
    ArgRange {
        callee: String,
        name: String,
        bound: String,
        value: String,
        help: String,
        #[label("out of range")]
        at: SourceSpan,
    },

    #[error("{message}")]
    #[diagnostic(code(trainc::arg::conflict), help("{help}"))]
    ArgConflict {
        message: String,
        help: String,
        #[label("here")]
        at: SourceSpan,
    },

    // ── shapes ─────────────────────────────────────────────────────────────────────────────
    #[error("shape mismatch in `{node}`: dimension {dim} is {found}, expected {expected}")]
    #[diagnostic(code(trainc::shape::mismatch), help("{help}"))]
    ShapeMismatch {
        node: String,
        dim: usize,
        expected: String,
        found: String,
        help: String,
        #[label("{found} ≠ {expected}")]
        at: SourceSpan,
    },

    #[error("`{node}` needs an input with {expected} dimensions, found {found}: {shape}")]
    #[diagnostic(code(trainc::shape::rank), help("{help}"))]
    ShapeRank {
        node: String,
        expected: String,
        found: usize,
        shape: String,
        help: String,
        #[label("input is {shape}")]
        at: SourceSpan,
    },

    #[error("`{node}` shrinks dimension {dim} to {size}: the input {input} is too small")]
    #[diagnostic(
        code(trainc::shape::too_small),
        help("use a smaller kernel or stride, add padding, or feed larger inputs")
    )]
    ShapeTooSmall {
        node: String,
        dim: usize,
        size: i64,
        input: String,
        #[label("output dimension {dim} would be {size}")]
        at: SourceSpan,
    },

    #[error("`{node}`: {what} ({value}) is not divisible by groups ({groups})")]
    #[diagnostic(code(trainc::shape::groups), help("make the channel counts multiples of `groups`"))]
    ShapeGroups {
        node: String,
        what: String,
        value: String,
        groups: i64,
        #[label("{value} channels in {groups} groups")]
        at: SourceSpan,
    },

    #[error("`{node}` cannot broadcast {left} with {right}: dimension {dim} is {a} in one and {b} in the other")]
    #[diagnostic(code(trainc::shape::broadcast), help("{help}"))]
    ShapeBroadcast {
        node: String,
        left: String,
        right: String,
        dim: usize,
        a: String,
        b: String,
        help: String,
        #[label("{a} vs {b}")]
        at: SourceSpan,
    },

    #[error("`{node}`: the width ({width}) is not divisible by {heads} heads")]
    #[diagnostic(
        code(trainc::shape::heads),
        help("each head takes width / heads features: pick a head count that divides {width}")
    )]
    ShapeHeads {
        node: String,
        width: String,
        heads: i64,
        #[label("{width} features in {heads} heads")]
        at: SourceSpan,
    },

    #[error("`{node}` cannot reshape {from} ({count_in} elements per sample) to {to} ({count_out})")]
    #[diagnostic(code(trainc::shape::reshape), help("{help}"))]
    ShapeReshape {
        node: String,
        from: String,
        to: String,
        count_in: String,
        count_out: String,
        help: String,
        #[label("{count_in} ≠ {count_out}")]
        at: SourceSpan,
    },

    #[error("output `{output}` is {found}, but the signature says {expected}")]
    #[diagnostic(code(trainc::shape::output), help("{help}"))]
    OutputShape {
        output: String,
        found: String,
        expected: String,
        help: String,
        #[label("this is {found}")]
        at: SourceSpan,
        #[label("declared here")]
        declared: SourceSpan,
    },

    // ── graphs ─────────────────────────────────────────────────────────────────────────────
    #[error("{kind} `{name}` never returns")]
    #[diagnostic(code(trainc::graph::no_return), help("end the body with `return <tensor>`"))]
    NoReturn {
        kind: String,
        name: String,
        #[label("no `return` in this body")]
        at: SourceSpan,
    },

    #[error("statement after `return`")]
    #[diagnostic(code(trainc::graph::after_return), help("`return` ends the body; move it last"))]
    AfterReturn {
        #[label("never evaluated")]
        at: SourceSpan,
    },

    #[error("{message}")]
    #[diagnostic(code(trainc::graph::outputs), help("{help}"))]
    Outputs {
        message: String,
        help: String,
        #[label("{label}")]
        at: SourceSpan,
        label: String,
    },

    #[error("`{name}` is never used")]
    #[diagnostic(code(trainc::graph::unused), severity(Warning), help("remove it, or name it `_{name}` to keep it"))]
    Unused {
        name: String,
        #[label("computed but never used")]
        at: SourceSpan,
    },

    #[error("block `{name}` is recursive: {chain}")]
    #[diagnostic(
        code(trainc::graph::recursive),
        help("a graph must be finite; unroll the repetition into separate calls")
    )]
    Recursive {
        name: String,
        chain: String,
        #[label("calls itself through {chain}")]
        at: SourceSpan,
    },

    #[error("a training step at batch {batch} needs {estimate}: more than the {budget} of {device}")]
    #[diagnostic(
        code(trainc::train::memory),
        help(
            "lower the batch size (the activations grow with it), accumulate gradients (`accumulate = 4` with a quarter of the batch), or pass the device's real size with `--memory`"
        )
    )]
    Memory {
        estimate: String,
        budget: String,
        device: String,
        batch: usize,
        #[label("batch {batch} does not fit")]
        at: SourceSpan,
    },

    #[error("device `{device}` cannot train in `{precision}`")]
    #[diagnostic(code(trainc::train::precision), help("{help}"))]
    Precision {
        precision: String,
        device: String,
        help: String,
        #[label("`{precision}` on `{device}`")]
        at: SourceSpan,
    },

    #[error("`{callee}({out}, {k})` reads as {out} output channels and a {k}×{k} kernel")]
    #[diagnostic(
        code(trainc::arg::pytorch_order),
        help(
            "this looks like PyTorch's `nn.Conv2d(in_channels, out_channels)`: trainc takes the input channels from the tensor, so write `{callee}({k})` for {k} output channels, or name the kernel (`k = {k}`) if you mean it"
        )
    )]
    PytorchOrder {
        callee: String,
        out: String,
        k: i64,
        #[label("the second number is the kernel size")]
        at: SourceSpan,
    },

    #[error("blocks nest more than {limit} deep: this call of `{name}` is level {}", limit + 1)]
    #[diagnostic(
        code(trainc::graph::too_deep),
        help(
            "real networks nest a few levels (model → backbone → stage → block); repeat a block side by side instead of inside itself"
        )
    )]
    TooDeep {
        name: String,
        limit: usize,
        #[label("level {} starts here", limit + 1)]
        at: SourceSpan,
    },

    #[error("{message}")]
    #[diagnostic(
        code(trainc::graph::not_a_dim),
        help("dimensions are integers, symbols (`B`, `H`, `classes`) and `+ - * /` of them")
    )]
    NotADim {
        message: String,
        #[label("not a dimension")]
        at: SourceSpan,
    },

    #[error("{message}")]
    #[diagnostic(code(trainc::value::wrong), help("{help}"))]
    BadValue {
        message: String,
        help: String,
        #[label("{label}")]
        at: SourceSpan,
        label: String,
    },

    // ── keys of records ────────────────────────────────────────────────────────────────────
    #[error("unknown key `{key}` in {place}")]
    #[diagnostic(code(trainc::key::unknown), help("{help}"))]
    UnknownKey {
        key: String,
        place: String,
        help: String,
        #[label("unknown key")]
        at: SourceSpan,
    },

    #[error("`{key}` is set twice in {place}")]
    #[diagnostic(code(trainc::key::duplicate), help("remove one of them"))]
    DuplicateKey {
        key: String,
        place: String,
        #[label("set again here")]
        at: SourceSpan,
    },

    #[error("{place} needs `{key}`")]
    #[diagnostic(code(trainc::key::missing), help("{help}"))]
    MissingKey {
        key: String,
        place: String,
        help: String,
        #[label("`{key}` is missing")]
        at: SourceSpan,
    },

    // ── data ───────────────────────────────────────────────────────────────────────────────
    #[error("dataset `{dataset}`: `{path}` does not exist")]
    #[diagnostic(
        code(trainc::data::missing),
        help("fix the path, or run with `--skip-data` to check without the data")
    )]
    DataMissing {
        dataset: String,
        path: String,
        #[label("not found")]
        at: SourceSpan,
    },

    #[error("dataset `{dataset}`: {message}")]
    #[diagnostic(code(trainc::data::format), help("{help}"))]
    DataFormat {
        dataset: String,
        message: String,
        help: String,
        #[label("read from here")]
        at: SourceSpan,
    },

    #[error("dataset `{dataset}`: the class list does not match the data ({found})")]
    #[diagnostic(code(trainc::data::classes), help("{help}"))]
    DataClasses {
        dataset: String,
        listed: usize,
        found: String,
        help: String,
        #[label("{listed} classes")]
        at: SourceSpan,
    },

    /// A COCO category without a name: the class list would lose it while the boxes keep its id.
    #[error("dataset `{dataset}`: category {id} in `{file}` has no `name`")]
    #[diagnostic(
        code(trainc::data::unnamed_class),
        help("give every category a name: the classes are the category names in id order")
    )]
    DataUnnamedClass {
        dataset: String,
        id: i64,
        file: String,
        #[label("read from here")]
        at: SourceSpan,
    },

    #[error("dataset `{dataset}`: {message}")]
    #[diagnostic(code(trainc::data::split), help("{help}"))]
    DataSplit {
        dataset: String,
        message: String,
        help: String,
        #[label("here")]
        at: SourceSpan,
    },

    /// A stored split name on a source that stores one set: it used to read the whole data
    /// again, so `val = "anything"` validated on the training data.
    #[error("dataset `{dataset}`: `{source_name}` stores one set of data, not a split named \"{stored}\"")]
    #[diagnostic(code(trainc::data::stored_split), help("{help}"))]
    DataStoredSplit {
        dataset: String,
        source_name: String,
        stored: String,
        help: String,
        #[label("`{source_name}` has no split of this name")]
        at: SourceSpan,
    },

    /// Two splits whose sources declare different classes (by name or by order).
    #[error("dataset `{dataset}`: split `{split}` has other classes than `{reference}`: {difference}")]
    #[diagnostic(code(trainc::data::split_classes), help("{help}"))]
    DataSplitClasses {
        dataset: String,
        split: String,
        reference: String,
        difference: String,
        help: String,
        #[label("these classes differ")]
        at: SourceSpan,
    },

    /// Annotations that name a class past the class list, or an image that does not exist.
    #[error("dataset `{dataset}`: {message}")]
    #[diagnostic(code(trainc::data::label), help("{help}"))]
    DataLabel {
        dataset: String,
        message: String,
        help: String,
        #[label("read from here")]
        at: SourceSpan,
    },

    /// Boxes with no area once clipped to their image: dropped from training and the metric.
    #[error("dataset `{dataset}`: {count} box(es) in `{file}` have no area inside their image ({first})")]
    #[diagnostic(
        code(trainc::data::degenerate_box),
        severity(Warning),
        help("they are left out of training and evaluation; fix or remove them to silence this")
    )]
    DataDegenerateBox {
        dataset: String,
        count: usize,
        file: String,
        first: String,
        #[label("read from here")]
        at: SourceSpan,
    },

    // ── model ↔ data ───────────────────────────────────────────────────────────────────────
    #[error("model `{model}` takes {expected} input channels, but dataset `{dataset}` has {found}")]
    #[diagnostic(code(trainc::data::channels), help("{help}"))]
    InputChannels {
        model: String,
        dataset: String,
        expected: String,
        found: usize,
        help: String,
        #[label("{expected} channels")]
        at: SourceSpan,
    },

    #[error("model `{model}` takes {expected} images, but the data arrives as {found}")]
    #[diagnostic(code(trainc::data::size), help("{help}"))]
    InputSize {
        model: String,
        expected: String,
        found: String,
        help: String,
        #[label("expects {expected}")]
        at: SourceSpan,
    },

    #[error("model `{model}` predicts {found} classes, but dataset `{dataset}` has {expected}")]
    #[diagnostic(
        code(trainc::train::classes),
        help("use `classes` instead of a number so the model follows the dataset")
    )]
    ClassCount {
        model: String,
        dataset: String,
        found: String,
        expected: usize,
        #[label("{found} outputs")]
        at: SourceSpan,
    },

    // ── augment ────────────────────────────────────────────────────────────────────────────
    #[error("{message}")]
    #[diagnostic(code(trainc::augment::targets), help("{help}"))]
    AugmentTargets {
        message: String,
        help: String,
        #[label("{label}")]
        at: SourceSpan,
        label: String,
    },

    #[error("the training pipeline `{pipeline}` changes the image size, but evaluation has no pipeline")]
    #[diagnostic(
        code(trainc::augment::eval_size),
        help("add `eval_augment = …` with the same resize or crop, or evaluation feeds the model other sizes")
    )]
    EvalSize {
        pipeline: String,
        #[label("resizes to {size}")]
        at: SourceSpan,
        size: String,
    },

    #[error("{message}")]
    #[diagnostic(code(trainc::augment::batch_level), help("{help}"))]
    BatchLevel {
        message: String,
        help: String,
        #[label("{label}")]
        at: SourceSpan,
        label: String,
    },

    #[error("`{name}` makes soft class targets, but dataset `{dataset}` trains {task} ({targets})")]
    #[diagnostic(
        code(trainc::augment::mix_task),
        help("mixup and cutmix train classification only: they cannot mix {targets}; drop `mix`")
    )]
    MixTask {
        name: String,
        dataset: String,
        task: String,
        targets: String,
        #[label("classification only")]
        at: SourceSpan,
    },

    #[error("`normalize` has {found} values for `{name}`, but the images have {channels} channel(s)")]
    #[diagnostic(code(trainc::augment::channels), help("give one mean and one std per channel"))]
    AugmentChannels {
        name: String,
        found: usize,
        channels: usize,
        #[label("{found} values")]
        at: SourceSpan,
    },

    // ── losses, metrics, monitors ──────────────────────────────────────────────────────────
    #[error("{message}")]
    #[diagnostic(code(trainc::loss::mismatch), help("{help}"))]
    LossMismatch {
        message: String,
        help: String,
        #[label("{label}")]
        at: SourceSpan,
        label: String,
    },

    #[error("metric `{metric}` needs {needs}, but dataset `{dataset}` is for {task}")]
    #[diagnostic(code(trainc::metric::task), help("{help}"))]
    MetricTask {
        metric: String,
        needs: String,
        dataset: String,
        task: String,
        help: String,
        #[label("not a {task} metric")]
        at: SourceSpan,
    },

    #[error("cannot monitor `{monitor}`: {reason}")]
    #[diagnostic(code(trainc::train::monitor), help("{help}"))]
    Monitor {
        monitor: String,
        reason: String,
        help: String,
        #[label("{reason}")]
        at: SourceSpan,
    },

    #[error("`{monitor}` is monitored with mode `{mode}`, which looks inverted")]
    #[diagnostic(
        code(trainc::train::mode),
        severity(Warning),
        help("losses improve by going down (`min`), accuracy-like metrics by going up (`max`)")
    )]
    MonitorMode {
        monitor: String,
        mode: String,
        #[label("`{mode}` here")]
        at: SourceSpan,
    },

    #[error("output `{output}` of model `{model}` is not used by the loss")]
    #[diagnostic(
        code(trainc::train::unused_output),
        severity(Warning),
        help("add a loss term for it, or remove the output")
    )]
    UnusedOutput {
        output: String,
        model: String,
        #[label("never trained")]
        at: SourceSpan,
    },

    // ── schedules ──────────────────────────────────────────────────────────────────────────
    #[error("{message}")]
    #[diagnostic(code(trainc::schedule::segment), help("{help}"))]
    ScheduleSegment {
        message: String,
        help: String,
        #[label("{label}")]
        at: SourceSpan,
        label: String,
    },

    #[error("{message}")]
    #[diagnostic(code(trainc::schedule::length), severity(Warning), help("{help}"))]
    ScheduleLength {
        message: String,
        help: String,
        #[label("{label}")]
        at: SourceSpan,
        label: String,
    },

    #[error("`layer_norm` normalises the last axis of {shape}: the width, not the channels")]
    #[diagnostic(
        code(trainc::shape::last_axis),
        severity(Warning),
        help(
            "to normalise the channels per pixel write `layer_norm(axis = 1)` (ConvNeXt's); `group_norm(groups = 1)` normalises over C, H and W per sample"
        )
    )]
    LastAxis {
        shape: String,
        #[label("over the last axis")]
        at: SourceSpan,
    },

    // ── weights ────────────────────────────────────────────────────────────────────────────
    #[error("weights file `{file}`: {message}")]
    #[diagnostic(code(trainc::weights::file), help("{help}"))]
    WeightsFile {
        file: String,
        message: String,
        help: String,
        #[label("read here")]
        at: SourceSpan,
    },

    #[error("{message}")]
    #[diagnostic(code(trainc::weights::target), help("{help}"))]
    WeightsTarget {
        message: String,
        help: String,
        #[label("{label}")]
        at: SourceSpan,
        label: String,
    },

    #[error("rename rule `{rule}` is not `from -> to`")]
    #[diagnostic(
        code(trainc::weights::rename),
        help("write the file's prefix, an arrow and the model's module path: `\"fc -> classifier0.linear0\"`")
    )]
    WeightsRename {
        rule: String,
        #[label("in this load")]
        at: SourceSpan,
    },

    #[error("`{file}` lacks {count} parameter(s) of the model: {keys}")]
    #[diagnostic(code(trainc::weights::missing), help("{help}"))]
    WeightsMissing {
        file: String,
        count: usize,
        keys: String,
        help: String,
        #[label("loaded strictly here")]
        at: SourceSpan,
    },

    #[error("{count} key(s) of `{file}` fill nothing in the model: {keys}")]
    #[diagnostic(code(trainc::weights::unused), help("{help}"))]
    WeightsUnused {
        file: String,
        count: usize,
        keys: String,
        help: String,
        #[label("loaded strictly here")]
        at: SourceSpan,
    },

    #[error("`{module}`: `{key}` in `{file}` is {found}, the model's `{param}` is {expected}")]
    #[diagnostic(code(trainc::weights::shape), help("{help}"))]
    WeightsShape {
        file: String,
        module: String,
        param: String,
        key: String,
        expected: String,
        found: String,
        help: String,
        #[label("loaded here")]
        at: SourceSpan,
    },

    #[error("`{module}`: `{key}` in `{file}` is {found}, the model's `{param}` is {expected}; it is skipped")]
    #[diagnostic(
        code(trainc::weights::skipped),
        severity(Warning),
        help("a non-strict load keeps the model's own initialisation for it")
    )]
    WeightsSkipped {
        file: String,
        module: String,
        param: String,
        key: String,
        expected: String,
        found: String,
        #[label("loaded here")]
        at: SourceSpan,
    },

    #[error("`{file}` fills none of the model's parameters")]
    #[diagnostic(code(trainc::weights::nothing), severity(Warning), help("{help}"))]
    WeightsNothing {
        file: String,
        help: String,
        #[label("loads nothing")]
        at: SourceSpan,
    },

    // ── fine-tuning: `freeze` and `groups` ─────────────────────────────────────────────────
    #[error("model `{model}` has no module `{path}`")]
    #[diagnostic(code(trainc::finetune::unknown_module), help("{help}"))]
    UnknownModule {
        path: String,
        model: String,
        help: String,
        #[label("no module under this path")]
        at: SourceSpan,
    },

    #[error("every parameter of model `{model}` is frozen for the whole run")]
    #[diagnostic(
        code(trainc::finetune::all_frozen),
        severity(Warning),
        help(
            "nothing trains: freeze part of the model, or unfreeze it after some epochs with `frozen(…, epochs = N)`"
        )
    )]
    AllFrozen {
        model: String,
        #[label("freezes everything")]
        at: SourceSpan,
    },

    #[error("`{path}` is frozen for {frozen} epoch(s), but training is {epochs} epoch(s) long")]
    #[diagnostic(
        code(trainc::finetune::never_unfrozen),
        severity(Warning),
        help(
            "it never unfreezes: give it fewer epochs than {epochs}, or drop `epochs` to freeze it for the whole run"
        )
    )]
    NeverUnfrozen {
        path: String,
        frozen: usize,
        epochs: usize,
        #[label("never unfreezes")]
        at: SourceSpan,
    },
}

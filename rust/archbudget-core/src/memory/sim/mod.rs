//! The timeline: every tensor a step allocates and frees, in PyTorch's order, charged
//! at its allocator block size; the peak is the running maximum.
//!
//! Training (step 3 of the oracle's loop, so optimizer state exists and `.grad` is None):
//! forward op by op (outputs, saved tensors, autocast's cached bf16 weight copies,
//! transients; a value is freed when its last consumer has run and no backward node
//! keeps it), the autocast cache cleared after the loss, backward in reverse order
//! (each node allocates its input gradients, its weights' gradients — which stay in
//! `.grad` — and workspace, then frees its output gradient and what it saved), then
//! `optimizer.step()` (with its temporaries) and `zero_grad(set_to_none=True)`.
//! Inference (`inference_mode`): nothing is saved; autocast's weight copies are not
//! cached (the measured inference peaks hold none): each lives while its op runs.
//! Generation ([`Mode::Generate`], `generate.rs`) is the inference of the prompt,
//! extended to the decoded tokens by the formula on that variant. ZeRO sharding and frozen parameters
//! change what is charged per op (see [`RunSettings::zero_stage`], [`Graph::frozen`]).
mod checkpoint;
mod mem;

use super::alloc::block;
use super::compiled::record::{Recorder, Term};
use super::compiled::trace::{Phase, Trace};
use super::generate::Seen;
use super::graph::{DType, Graph, InputKind};
use super::ops::{AmpCast, Cost, Ctx, Out};
use super::shards::Zero;
pub(super) use super::shards::{optimizer_state, optimizer_temp, weight_bytes};
use super::{add, Mode, Precision, RunSettings};
use super::{MemoryReport, Result};
use checkpoint::{recompute, recompute_stop};
pub(crate) use mem::breakdown;
use mem::{report, Cat, Counts, Mem, Temp, NCAT};

struct Val {
    numel: u64,
    dtype: DType,
    bytes: u64,
    base: usize,
    requires_grad: bool,
    /// Forward consumers not yet run (counted on the base).
    uses: u32,
    saves: u32,
    held: bool,
    alive: bool,
    /// A partial view whose backward builds a full-size gradient.
    partial: bool,
}

struct Lowered {
    cost: Cost,
    record: bool,
}

/// How a step finds the bytes of its weights on one GPU (`allocator::construction_bytes`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Weights {
    /// Replayed for every step: the reference.
    Replay,
    /// Remembered per thread for the last few models (the compiled model's way).
    Recent,
}

pub(crate) fn simulate(g: &Graph, run: &RunSettings) -> Result<MemoryReport> {
    simulate_weighing(g, run, Weights::Replay)
}

/// [`simulate`], the weights found as `weights` says.
pub(crate) fn simulate_weighing(
    g: &Graph,
    run: &RunSettings,
    weights: Weights,
) -> Result<MemoryReport> {
    if run.gpus == 0 {
        return Err(crate::Error::invalid("gpus", "must be a positive integer"));
    }
    if run.zero_stage > 3 {
        return Err(crate::Error::invalid(
            "zero_stage",
            format!("{} is not one of 0, 1, 2, 3", run.zero_stage),
        ));
    }
    match run.mode {
        Mode::Generate => super::generate::generate(g, run),
        _ => step(g, run, None, None, None, weights),
    }
}

pub(super) fn simulate_step(
    g: &Graph,
    run: &RunSettings,
    seen: Option<&mut Seen>,
) -> Result<MemoryReport> {
    step(g, run, seen, None, None, Weights::Replay)
}

/// A training or inference step as [`simulate_step`] runs it, recorded into `trace`.
pub(super) fn simulate_traced(
    g: &Graph,
    run: &RunSettings,
    trace: &mut Trace,
) -> Result<MemoryReport> {
    step(g, run, None, Some(trace), None, Weights::Replay)
}

/// A training or inference step on one GPU, every charge recorded by its source into
/// `rec` (the symbolic tape's recording, `compiled::tape`).
pub(crate) fn simulate_recorded(
    g: &Graph,
    run: &RunSettings,
    rec: &mut Recorder,
) -> Result<MemoryReport> {
    step(g, run, None, None, Some(rec), Weights::Recent)
}

fn step(
    g: &Graph,
    run: &RunSettings,
    seen: Option<&mut Seen>,
    mut trace: Option<&mut Trace>,
    mut rec: Option<&mut Recorder>,
    weights_by: Weights,
) -> Result<MemoryReport> {
    let train = run.mode == Mode::Train;
    let n_nodes = if train {
        g.nodes.len()
    } else {
        g.nodes.len().saturating_sub(g.train_only_tail)
    };
    let param_dt = if run.precision == Precision::Bf16 {
        DType::BF16
    } else {
        DType::F32
    };
    let mut vals: Vec<Val> = Vec::with_capacity(g.inputs.len() + n_nodes);
    for inp in &g.inputs {
        let dtype = match inp.kind {
            InputKind::Float => param_dt,
            InputKind::Index => DType::I64,
        };
        let bytes = block(super::mul(inp.numel, dtype.bytes())?);
        let id = vals.len();
        if let Some(r) = rec.as_deref_mut() {
            r.input(id);
        }
        vals.push(Val {
            numel: inp.numel,
            dtype,
            bytes,
            base: id,
            requires_grad: false,
            uses: 0,
            saves: 0,
            held: true,
            alive: true,
            partial: false,
        });
    }
    // lower every node in order, with its inputs' dtypes and grad requirements
    let mut low: Vec<Lowered> = Vec::with_capacity(n_nodes);
    let (mut params, mut trainable, mut buffers, mut flops_fwd, mut flops_bwd) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut weights = 0u64; // parameter blocks (sharded by ZeRO-3)
    let mut buffer_bytes = 0u64;
    let mut param_blocks = 0u64; // bytes of one copy of all trainable params (grads, states)
    let mut frozen = vec![false; n_nodes];
    // parameters and buffers in construction order, for `allocator::construction_bytes`
    let mut construct: Vec<(u64, u64, bool)> = Vec::new();
    for &k in &g.frozen {
        if let Some(f) = frozen.get_mut(k) {
            *f = true;
        }
    }
    // one set of scratch slices for every node's context (no per-node allocation)
    let (mut in_dtype, mut in_numel, mut in_grad) = (Vec::new(), Vec::new(), Vec::new());
    for (k, node) in g.nodes[..n_nodes].iter().enumerate() {
        in_dtype.clear();
        in_numel.clear();
        in_grad.clear();
        for &i in &node.inputs {
            let v = vals.get(i).ok_or_else(|| {
                crate::Error::Internal(format!("memory graph: value {i} used before it exists"))
            })?;
            in_dtype.push(v.dtype);
            in_numel.push(v.numel);
            in_grad.push(v.requires_grad);
        }
        let any_grad = in_grad.iter().any(|&b| b);
        let mk = |record: bool| Ctx {
            record,
            train_mode: train,
            precision: run.precision,
            attn: run.attn,
            in_dtype: &in_dtype,
            in_numel: &in_numel,
            in_grad: &in_grad,
            frozen: frozen[k],
        };
        let mut lowered_record = train && any_grad;
        let mut cost = node.op.lower(&mk(lowered_record))?;
        let record = train && (any_grad || (!cost.params.is_empty() && !frozen[k]));
        if record && !any_grad {
            lowered_record = true;
            cost = node.op.lower(&mk(true))?;
        }
        if let Some(r) = rec.as_deref_mut() {
            r.lower(&g.nodes, k, &mk(lowered_record), &cost);
        }
        for (j, p) in cost.params.iter().enumerate() {
            if p.shared {
                continue;
            }
            params = add(params, p.numel)?;
            let numel_term = rec.as_deref_mut().map(|r| {
                let s = r.slot(Term::ParamNumel(k, j));
                Recorder::count(&mut r.params, s, 1);
                s
            });
            let dt = p.dtype.unwrap_or(param_dt);
            if let Some(stored) = p.stored {
                // a quantized weight: its tensors as stored, frozen
                for (i, &t) in stored.iter().enumerate().filter(|(_, &t)| t > 0) {
                    construct.push((t, 1, false));
                    if let Some(tr) = trace.as_deref_mut() {
                        tr.construct_nodes.push(k);
                    }
                    if let Some(r) = rec.as_deref_mut() {
                        let s = r.slot(Term::Stored(k, j, i));
                        r.construct.push((s, 1, false));
                    }
                    weights = add(weights, block(t))?;
                }
                continue;
            }
            // a parameter of its own dtype (an adapter) is made after the model's conversion
            let converted = p.dtype.is_none() && dt == DType::BF16;
            construct.push((p.numel, dt.bytes(), converted));
            if let Some(tr) = trace.as_deref_mut() {
                tr.construct_nodes.push(k);
            }
            let b = block(super::mul(p.numel, dt.bytes())?);
            weights = add(weights, b)?;
            if let (Some(r), Some(s)) = (rec.as_deref_mut(), numel_term) {
                r.construct.push((s, dt.bytes(), converted));
                if !frozen[k] {
                    Recorder::count(&mut r.trainable, s, 1);
                    let s = r.slot(Term::ParamBlock(k, j));
                    Recorder::count(&mut r.param_blocks, s, 1);
                }
            }
            if !frozen[k] {
                trainable = add(trainable, p.numel)?;
                param_blocks = add(param_blocks, b)?;
            }
        }
        for (j, &(n, dt)) in cost.buffers.iter().enumerate() {
            buffers = add(buffers, n)?;
            let converted = dt == DType::F32 && param_dt == DType::BF16;
            let dt = if dt == DType::F32 { param_dt } else { dt };
            construct.push((n, dt.bytes(), converted));
            if let Some(tr) = trace.as_deref_mut() {
                tr.construct_nodes.push(k);
            }
            if let Some(r) = rec.as_deref_mut() {
                let s = r.slot(Term::BufferNumel(k, j));
                Recorder::count(&mut r.buffers, s, 1);
                r.construct.push((s, dt.bytes(), converted));
            }
            buffer_bytes = add(buffer_bytes, block(super::mul(n, dt.bytes())?))?;
        }
        flops_fwd = add(flops_fwd, cost.flops_fwd)?;
        flops_bwd = add(flops_bwd, cost.flops_bwd)?;
        if let Some(r) = rec.as_deref_mut() {
            let s = r.slot(Term::FlopsFwd(k));
            Recorder::count(&mut r.flops_fwd, s, 1);
            let s = r.slot(Term::FlopsBwd(k));
            Recorder::count(&mut r.flops_bwd, s, 1);
        }
        let id = vals.len();
        let v = match cost.out {
            Some(Out::New { numel, dtype }) => {
                let bytes = block(super::mul(numel, dtype.bytes())?);
                Val {
                    numel,
                    dtype,
                    bytes,
                    base: id,
                    requires_grad: record,
                    uses: 0,
                    saves: 0,
                    held: false,
                    alive: false,
                    partial: false,
                }
            }
            Some(Out::Alias(i)) | Some(Out::View { input: i, .. }) => {
                let src = node.inputs.get(i).copied().ok_or_else(|| {
                    crate::Error::Internal("memory graph: alias of a missing input".into())
                })?;
                let (numel, partial) = match cost.out {
                    Some(Out::View { numel, .. }) => (numel, numel != vals[src].numel),
                    _ => (vals[src].numel, false),
                };
                Val {
                    numel,
                    dtype: vals[src].dtype,
                    bytes: 0,
                    base: vals[src].base,
                    requires_grad: record,
                    uses: 0,
                    saves: 0,
                    held: false,
                    alive: true,
                    partial,
                }
            }
            None => Val {
                numel: 0,
                dtype: DType::F32,
                bytes: 0,
                base: id,
                requires_grad: false,
                uses: 0,
                saves: 0,
                held: false,
                alive: false,
                partial: false,
            },
        };
        if let Some(r) = rec.as_deref_mut() {
            r.output(k, cost.out, &node.inputs, v.partial);
        }
        vals.push(v);
        for &i in &node.inputs {
            let b = vals[i].base;
            vals[b].uses += 1;
        }
        low.push(Lowered { cost, record });
    }
    // the caller keeps the last value (the loss, or the inference output)
    if let Some(last) = vals.len().checked_sub(1) {
        let b = vals[last].base;
        vals[b].held = true;
    }
    if !train {
        if let Some(v) = g.infer_output.filter(|&v| v < vals.len()) {
            let b = vals[v].base;
            vals[b].held = true;
        }
    }
    let n_in = g.inputs.len();
    // nodes off the loss's path (a pooler whose output the loss ignores) record nothing
    // that backward reaches: their weights get no gradient and no optimizer state
    if train {
        let mut reach = vec![false; vals.len()];
        if let Some(r) = reach.last_mut() {
            *r = true;
        }
        for k in (0..n_nodes).rev() {
            if !reach[n_in + k] {
                if low[k].record {
                    low[k].record = false;
                    for (j, p) in low[k].cost.params.iter().enumerate() {
                        if !p.shared && !frozen[k] && p.stored.is_none() {
                            let dt = p.dtype.unwrap_or(param_dt);
                            let b = block(super::mul(p.numel, dt.bytes())?);
                            param_blocks = param_blocks.saturating_sub(b);
                            if let Some(r) = rec.as_deref_mut() {
                                let s = r.slot(Term::ParamBlock(k, j));
                                Recorder::count(&mut r.param_blocks, s, -1);
                            }
                        }
                    }
                    flops_bwd = flops_bwd.saturating_sub(low[k].cost.flops_bwd);
                    if let Some(r) = rec.as_deref_mut() {
                        let s = r.slot(Term::FlopsBwd(k));
                        Recorder::count(&mut r.flops_bwd, s, -1);
                    }
                }
                continue;
            }
            for &i in &g.nodes[k].inputs {
                reach[i] = true;
            }
        }
    }
    let mut fheld = vec![false; vals.len()];
    for &v in &g.forward_held {
        if v < vals.len() {
            fheld[vals[v].base] = true;
        }
    }
    let mut region_of: Vec<Option<(usize, usize)>> = vec![None; n_nodes];
    if train {
        for &(f, l) in &g.checkpoint_regions {
            let l = l.min(n_nodes.saturating_sub(1));
            for slot in region_of.iter_mut().take(l + 1).skip(f) {
                *slot = Some((f, l));
            }
            // the recomputed forward is counted again, as far as it reruns
            let (stop, runs) = recompute_stop(g, &low, f, l, run.precision == Precision::AmpBf16);
            for (k, lw) in low.iter().enumerate().take(stop + runs as usize).skip(f) {
                if lw.record {
                    flops_bwd = add(flops_bwd, lw.cost.flops_fwd)?;
                    if let Some(r) = rec.as_deref_mut() {
                        let s = r.slot(Term::FlopsFwd(k));
                        Recorder::count(&mut r.flops_bwd, s, 1);
                    }
                }
            }
        }
    }

    let z = Zero::new(run);
    // one GPU: the weights as the caching allocator packs them while the model is built
    // (and converted to bf16); over several GPUs, per-tensor blocks, sharded by ZeRO-3.
    // A traced step is a fold's short graph, whose weights the fold replaces with the
    // whole graph's: any constant serves, so it skips the allocator's replay.
    let weight_bytes = if trace.is_some() {
        add(weights, buffer_bytes)?
    } else {
        weight_bytes(run, &construct, weights, buffer_bytes, weights_by)?
    };
    if let Some(tr) = trace.as_deref_mut() {
        tr.weights = weights;
        tr.buffer_bytes = buffer_bytes;
        tr.param_blocks = param_blocks;
        tr.construct = construct;
    }
    let mut m = Mem {
        cur: [0; NCAT],
        peak: 0,
        at_peak: [0; NCAT],
        trace,
        rec,
        phase: Phase::Start,
        node: 0,
        n_in: g.inputs.len(),
    };
    m.alloc(Cat::Weights, weight_bytes, Term::Weights)?;
    let state = optimizer_state(run, param_blocks)?;
    m.alloc(Cat::Optimizer, state, Term::Optimizer)?;
    for (i, v) in vals[..g.inputs.len()].iter().enumerate() {
        m.alloc(Cat::Inputs, v.bytes, Term::Input(i))?;
    }
    if train {
        // the previous step's loss, still referenced
        m.alloc(Cat::Inputs, block(4), Term::Const(block(4)))?;
    }
    m.mark(&Temp::new())?;

    // ---------------------------------------------------------------- forward
    let mut amp_cache_unsaved = Temp::new();
    let mut ckpt_holds: Vec<(usize, usize)> = Vec::new();
    for (b, &h) in fheld.iter().enumerate() {
        if h {
            vals[b].saves += 1;
        }
    }
    let amp = run.precision == Precision::AmpBf16;
    m.phase = Phase::Forward;
    for (k, (node, lw)) in g.nodes[..n_nodes].iter().zip(&low).enumerate() {
        m.node = k;
        let id = n_in + k;
        let c = &lw.cost;
        let mut temp = Temp::new();
        // checkpointed nodes save nothing now (their region is recomputed in backward);
        // the region keeps its inputs instead
        let save_now = lw.record && region_of[k].is_none();
        if let Some((f, _)) = region_of[k] {
            for &i in &node.inputs {
                if i < n_in + f {
                    let b = vals[i].base;
                    vals[b].saves += 1;
                    ckpt_holds.push((f, b));
                }
            }
        }
        if amp {
            for (j, p) in c.params.iter().enumerate() {
                if let AmpCast::Cast { saved } = p.amp_cast {
                    let b = block(super::mul(p.numel, 2)?);
                    let t = Term::AmpCopy(k, j);
                    if !train || (frozen[k] && !(saved && save_now)) {
                        // under inference_mode the measured peaks show no cached copies,
                        // and autocast caches no cast of a frozen weight: each cast
                        // lives only while its op runs (or until backward, if saved)
                        temp.add(&m, b, t)?;
                        continue;
                    }
                    m.alloc(Cat::AmpCopies, b, t)?;
                    if !(saved && save_now) {
                        amp_cache_unsaved.add(&m, b, t)?;
                    }
                }
            }
        }
        if vals[id].base == id && vals[id].bytes > 0 {
            vals[id].alive = true;
            m.alloc(Cat::Activations, vals[id].bytes, Term::Out(k))?;
        }
        for (j, &s) in c.saved.iter().enumerate() {
            if save_now {
                m.alloc(Cat::Activations, block(s), Term::Saved(k, j))?;
            } else {
                temp.add(&m, block(s), Term::Saved(k, j))?;
            }
        }
        for (j, &t) in c.fwd_temp.iter().enumerate() {
            temp.add(&m, block(t), Term::FwdTemp(k, j))?;
        }
        // ZeRO-3 only, never recorded (the tape runs on one GPU)
        temp.add(&m, z.gathered(&c.params, param_dt)?, Term::Const(0))?;
        m.mark(&temp)?;
        if save_now {
            for &i in &c.save_inputs {
                if let Some(&v) = node.inputs.get(i) {
                    let b = vals[v].base;
                    vals[b].saves += 1;
                }
            }
            if c.save_output {
                let b = vals[id].base;
                vals[b].saves += 1;
            }
        }
        for &i in &node.inputs {
            let b = vals[i].base;
            vals[b].uses -= 1;
            release(&mut vals, &mut m, b);
        }
        let b = vals[id].base;
        release(&mut vals, &mut m, b);
    }
    if let Some(seen) = seen {
        seen.weights = m.cur[Cat::Weights as usize];
        seen.inputs = m.cur[Cat::Inputs as usize];
        seen.fixed_inputs = g.fixed_inputs.iter().map(|&v| vals[v].bytes).sum();
        let mut growth = vec![None; vals.len()];
        for &(v, kind) in &g.held_caches {
            if let Some(val) = vals.get(v) {
                growth[val.base] = Some(kind);
            }
        }
        for (b, &h) in fheld.iter().enumerate() {
            if h && vals[b].bytes > 0 {
                seen.held
                    .push((vals[b].numel, vals[b].dtype.bytes(), growth[b]));
            }
        }
        if let Some(d) = g.decode_from {
            seen.decode_flops = low.iter().skip(d).map(|l| l.cost.flops_fwd).sum();
        }
        let out = g
            .infer_output
            .filter(|&v| v < vals.len())
            .unwrap_or(vals.len().saturating_sub(1));
        if let Some(v) = vals.get(out) {
            seen.out = (v.numel, v.dtype.bytes());
        }
    }
    let counts = Counts {
        params,
        trainable,
        buffers,
        flops_fwd,
    };
    if !train {
        return report(m, counts, 0);
    }
    // autocast's cache is cleared when the `with autocast` block that ran the loss ends;
    // the model's output (and the kv cache it holds) is dropped
    m.free_all(Cat::AmpCopies, &amp_cache_unsaved);
    for (b, &h) in fheld.iter().enumerate() {
        if h {
            vals[b].saves -= 1;
            release(&mut vals, &mut m, b);
        }
    }

    // ---------------------------------------------------------------- backward
    let mut grad: Vec<u64> = vec![0; vals.len()];
    // when recording, the term naming each gradient buffer (moved with it)
    let mut grad_term: Vec<Term> = match m.rec {
        Some(_) => vec![Term::Const(0); vals.len()],
        None => Vec::new(),
    };
    let recording = !grad_term.is_empty();
    let loss = vals.len() - 1;
    grad[loss] = block(4);
    if recording {
        grad_term[loss] = Term::Const(block(4));
    }
    m.alloc(Cat::ActivationGrads, grad[loss], Term::Const(block(4)))?;
    let mut param_grads = 0u64;
    m.phase = Phase::Backward;
    for k in (0..n_nodes).rev() {
        let lw = &low[k];
        if !lw.record {
            continue;
        }
        m.node = k;
        let node = &g.nodes[k];
        let id = n_in + k;
        if let Some((f, l)) = region_of[k] {
            if k == l {
                recompute(g, &low, &mut vals, &mut m, f, l, n_in, amp)?;
            }
        }
        let c = &lw.cost;
        let mut temp = Temp::new();
        // the gradients this node returns for its inputs
        let view = vals[id].base != id;
        for &i in &node.inputs {
            if !vals[i].requires_grad {
                continue;
            }
            let key = grad_key(&vals, i);
            let b = block(super::mul(vals[i].numel, vals[i].dtype.bytes())?);
            let t = match m.rec.as_deref_mut() {
                Some(r) => r.grad(i, vals[i].dtype.bytes()),
                None => Term::Const(0),
            };
            if view && !vals[id].partial {
                // alias or view: the gradient passes through without a copy
                if grad[key] == 0 {
                    grad[key] = grad[id];
                    grad[id] = 0;
                    if recording {
                        grad_term[key] = grad_term[id];
                        grad_term[id] = Term::Const(0);
                    }
                }
                continue;
            }
            if grad[key] == 0 {
                grad[key] = b;
                if recording {
                    grad_term[key] = t;
                }
                m.alloc(Cat::ActivationGrads, b, t)?;
            } else {
                temp.add(&m, b, t)?; // accumulated in place into the existing buffer
            }
        }
        // Under autocast the op returns bfloat16 weight gradients; the cast's own
        // backward node (`ToCopyBackward0`) makes the fp32 `.grad` only after this node
        // has run and released what it saved (after the releases below).
        let cast = |p: &super::ops::Param| amp && matches!(p.amp_cast, AmpCast::Cast { .. });
        // the casts' gradients, in parameter order (popped newest first below)
        let mut bf16_grads: Vec<(u64, Term)> = Vec::new();
        for (j, p) in c.params.iter().enumerate() {
            if frozen[k] || p.stored.is_some() {
                continue;
            }
            if cast(p) {
                bf16_grads.push((block(super::mul(p.numel, 2)?), Term::AmpCopy(k, j)));
            } else {
                let rest = accumulate_grad(&mut m, &z, p, (k, j), param_dt, &mut param_grads)?;
                temp.extend(&rest)?;
            }
        }
        for &(b, t) in &bf16_grads {
            temp.add(&m, b, t)?;
        }
        temp.add(&m, z.gathered(&c.params, param_dt)?, Term::Const(0))?;
        for (j, &t) in c.bwd_temp.iter().enumerate() {
            temp.add(&m, block(t), Term::BwdTemp(k, j))?;
        }
        m.mark(&temp)?;
        // free this node's output gradient and what it saved
        if !view || vals[id].partial {
            let t = grad_term.get(id).copied().unwrap_or(Term::Const(0));
            m.free(Cat::ActivationGrads, grad[id], t);
            grad[id] = 0;
            if recording {
                grad_term[id] = Term::Const(0);
            }
        }
        for (j, &s) in c.saved.iter().enumerate() {
            m.free(Cat::Activations, block(s), Term::Saved(k, j));
        }
        if amp {
            for (j, p) in c.params.iter().enumerate() {
                if let AmpCast::Cast { saved: true } = p.amp_cast {
                    m.free(
                        Cat::AmpCopies,
                        block(super::mul(p.numel, 2)?),
                        Term::AmpCopy(k, j),
                    );
                }
            }
        }
        for &i in &c.save_inputs {
            if let Some(&v) = node.inputs.get(i) {
                let b = vals[v].base;
                vals[b].saves -= 1;
                release(&mut vals, &mut m, b);
            }
        }
        if c.save_output {
            let b = vals[id].base;
            vals[b].saves -= 1;
            release(&mut vals, &mut m, b);
        }
        if let Some((f, _)) = region_of[k] {
            if k == f {
                for &(rf, b) in &ckpt_holds {
                    if rf == f {
                        vals[b].saves -= 1;
                        release(&mut vals, &mut m, b);
                    }
                }
            }
        }
        // the cast nodes, newest first (autocast casts the weight before the bias)
        for (j, p) in c.params.iter().enumerate().rev() {
            if frozen[k] || !cast(p) {
                continue;
            }
            let mut temp = accumulate_grad(&mut m, &z, p, (k, j), param_dt, &mut param_grads)?;
            for &(b, t) in &bf16_grads {
                temp.add(&m, b, t)?;
            }
            temp.add(&m, z.gathered(&c.params, param_dt)?, Term::Const(0))?;
            m.mark(&temp)?;
            bf16_grads.pop();
        }
    }
    for (v, gk) in grad.iter_mut().enumerate() {
        let t = grad_term.get(v).copied().unwrap_or(Term::Const(0));
        m.free(Cat::ActivationGrads, *gk, t);
        *gk = 0;
    }
    // ---------------------------------------------------------------- optimizer.step()
    // torch's default foreach Adam/AdamW (`_multi_tensor_adam`) computes
    // `exp_avg_sq_sqrt = torch._foreach_sqrt(exp_avg_sqs)`: one temporary per parameter.
    // SGD (with or without momentum) updates in place.
    let opt_temp = optimizer_temp(run, param_grads);
    m.phase = Phase::Optimizer;
    if let Some(tr) = m.trace.as_deref_mut() {
        tr.param_grads = param_grads;
    }
    let mut temp = Temp::new();
    temp.add(&m, opt_temp, Term::OptTemp)?;
    m.mark(&temp)?;
    let fwd_bwd = add(flops_fwd, flops_bwd)?;
    report(m, counts, fwd_bwd)
}

/// `AccumulateGrad` of one parameter: its gradient becomes `.grad` (charged to
/// Gradients; ZeRO-2/3 keep only their shard after the reduce-scatter). Returns the bytes
/// alive only meanwhile: the unsharded rest, or the whole new gradient of a tied weight,
/// added in place into the `.grad` its first use made.
fn accumulate_grad(
    m: &mut Mem,
    z: &Zero,
    p: &super::ops::Param,
    (k, j): (usize, usize),
    param_dt: DType,
    param_grads: &mut u64,
) -> Result<Temp> {
    let b = block(super::mul(p.numel, p.dtype.unwrap_or(param_dt).bytes())?);
    let t = Term::ParamBlock(k, j);
    let mut rest = Temp::new();
    if p.shared {
        rest.add(m, b, t)?;
        return Ok(rest);
    }
    let kept = z.grads(b);
    // sharded over several GPUs, never recorded (the tape runs on one GPU)
    m.alloc(Cat::Gradients, kept, t)?;
    *param_grads = add(*param_grads, b)?;
    if let Some(r) = m.rec.as_deref_mut() {
        let s = r.slot(t);
        Recorder::count(&mut r.param_grads, s, 1);
    }
    rest.add(m, b - kept, Term::Const(0))?;
    Ok(rest)
}

fn grad_key(vals: &[Val], i: usize) -> usize {
    if vals[i].base != i && !vals[i].partial {
        vals[i].base
    } else {
        i
    }
}

fn release(vals: &mut [Val], m: &mut Mem, b: usize) {
    let v = &mut vals[b];
    if v.alive && v.uses == 0 && v.saves == 0 && !v.held && v.base == b && v.bytes > 0 {
        v.alive = false;
        let t = if b < m.n_in {
            Term::Input(b)
        } else {
            Term::Out(b - m.n_in)
        };
        m.free(Cat::Activations, v.bytes, t);
    }
}

"""Every piece of text the page shows, in English and Korean.

`t(key, lang, **values)` looks a text up and fills its {placeholders}. A key missing in Korean falls
back to English, so a new string never breaks the page; tests check that both tables have the same
keys. Facts (presets, allowed values, engine modes) stay in the engine; only their wording is here.
"""

from __future__ import annotations

LANGS = ("en", "ko")
LANG_NAMES = {"en": "English", "ko": "한국어"}

EN: dict[str, str] = {
    # -- page -----------------------------------------------------------------------------------
    "page_title": "BatchNorm Lab",
    "tagline": "Watch Batch Normalization work: a network **with** BatchNorm and its **plain twin** train in "
               "lockstep — same initial weights, same mini-batches, same order — so every difference you "
               "see is BN's doing.",
    "tab_lab": "Live lab",
    "tab_sweep": "LR sweep",
    "tab_concepts": "Concepts",
    "language": "Language",
    # -- sidebar ----------------------------------------------------------------------------------
    "sidebar_setup": "Experiment",
    "preset": "Preset",
    "preset_help": "A preset fills in every setting below for one classic experiment; you can change any of them.",
    # One line per preset (bn_demo/config.py PRESETS): what it shows and what to look for.
    "preset_summary_tutorial": "The classic tutorial: 784-32-32-10 ReLU MLP, Adam lr 0.01, batch 32, 10 epochs, "
                               "seed 1 — both twins learn; BN gets there a little faster.",
    "preset_summary_ioffe2015": "BN paper §4.1 (Fig. 1): 3×100 sigmoid, Gaussian init σ 0.1, SGD lr 0.1, batch 60, "
                                "50,000 steps — the plain net stalls, then learns while each unit's sigmoid inputs "
                                "widen (about ×49 by the end); BN learns at once and its units' bands widen ×1.9.",
    "preset_summary_high-lr": "SGD with lr 2, too high for the plain net: its ReLUs die and it sticks at chance "
                              "(loss 2.30), while the BN twin learns (≈94 % after 3 epochs on 8,000 MNIST images).",
    "preset_summary_bad-init": "Weights drawn with σ = 0.001, far too small: the plain net's signal and gradients "
                               "shrink layer by layer and it never leaves chance; BN rescales every layer and learns "
                               "at once.",
    "preset_summary_deep-sigmoid": "Eight sigmoid layers: gradients vanish on the way down and the plain net barely "
                                   "moves; BN keeps every layer's gradient alive.",
    "preset_summary_no-cure-all": "BN is no cure-all: SGD with lr 10. The plain net diverges within a few steps, and "
                                  "BN only lasts a little longer and stays at chance too (on MNIST, seeds 1–5: every ReLU "
                                  "of a layer dead on 3, diverged on 1, 97 % of a layer's ReLUs dead on 1).",
    "dataset": "Dataset",
    "model_mode": "Networks",
    "model_both": "Compare BN vs plain",
    "model_bn": "BN only",
    "model_plain": "Plain only",
    "model_arms": "Pick networks",
    "arms": "Networks trained in lockstep",
    "arms_help": "Any 1 to 4 of: BN; plain (no normalisation); LayerNorm in BN's place (each example normalised "
                 "over the layer's units: the same in training and evaluation); noisy BN (Santurkar et al. 2018: "
                 "BN with noise after it whose mean per unit (±0.5) and scale (1 to 1.25) change at every step, so "
                 "the distributions are unstable by construction; evaluation uses the noise's mean). All start "
                 "from the same Linear weights and train on the same batches. Pick them with “Pick networks” above.",
    "section_training": "Training",
    "lr": "Learning rate (log scale)",
    "batch_size": "Batch size",
    "run_length": "Epochs",
    "steps": "Steps (0 = train by epochs)",
    "steps_help": "A step count above 0 overrides the epochs (the BN paper counts 50,000 steps).",
    "optimizer": "Optimizer",
    "opt_sgd": "SGD",
    "opt_momentum": "SGD + momentum 0.9",
    "opt_adam": "Adam",
    "section_network": "Network",
    "activation": "Activation",
    "depth": "Hidden layers (depth)",
    "width": "Units per layer (width)",
    "init": "Weight initialisation",
    "init_default": "PyTorch default (Kaiming uniform)",
    "init_gaussian": "Gaussian N(0, σ²)",
    "init_std": "Init σ",
    "section_bn": "BatchNorm",
    "bn_placement": "BN placement",
    "place_before": "Before the nonlinearity (paper)",
    "place_after": "After the nonlinearity",
    "bn_momentum": "BN momentum",
    "bn_momentum_help": "PyTorch convention: running = (1 − m)·running + m·batch. Keras' 0.99 is m = 0.01.",
    "bn_disabled": "Plain only: no BN layers to configure.",
    "section_run": "Run",
    "seed": "Seed",
    "seed_help": "Same seed, same initial weights and batches: runs are reproducible.",
    "repeats": "Seeds side by side",
    "repeats_help": "Train the same settings with this many seeds (the seed above, then the next ones) in "
                    "lockstep, in one run: the loss and accuracy curves show their mean with a ±1 sd band, so you "
                    "can tell a real difference from luck. Every other chart shows the first seed. Each extra seed "
                    "adds a little less than one more run's time (it is trained and evaluated, not probed).",
    "pace": "Pace",
    "pace_full": "Full speed",
    "pace_slow": "Slow motion",
    "pace_rate": "Steps per second",
    "pace_help": "Slow motion caps the training speed so a class can watch the distributions move.",
    "device": "Device",
    "device_auto": "auto → {found}",
    "device_found": "Found on this machine: {devices}.",
    "share_help": "The address bar holds every setting: copy the page's URL to share this experiment.",
    "settings_apply_next": "Settings changed: they apply to the next run (Stop or Reset, then Start).",
    # -- data states ----------------------------------------------------------------------------------
    "data_offline": "Bundled with scikit-learn: works offline.",
    "data_cached": "In the server's data folder.",
    "data_partial": "Only the test split is in the server's data folder: trains on part of it and holds out the rest.",
    "data_missing": "Not in the server's data folder yet: downloaded there on Start (needs internet).",
    "data_unavailable": "Unavailable: {problem} Start uses the offline 8×8 digits instead.",
    "data_downloading": "Loading {name}… (downloading if it is not on disk)",
    "fallback_notice": "{problem} This run uses the offline 8×8 digits instead, for {steps} steps (the planned "
                       "run's length, at most {most}).",
    "technical_detail": "Technical detail",
    "cli_help_backend": "where the run trains: thread (this process, the default) or ray (a Ray actor in its own "
                        "worker process; a local Ray, or the cluster at $BN_DEMO_RAY_ADDRESS)",
    "backend_ray_missing": "the ray backend needs Ray: pip install -r requirements-ray.txt",
    "backend_ray_unreachable": "cannot reach the Ray cluster at {address} ({detail}); unset BN_DEMO_RAY_ADDRESS "
                               "for a local Ray, or use --backend thread",
    "backend_unknown_backend": "unknown backend {backend}: choose thread or ray",
    "worker_lost": "The process that trained this run ended unexpectedly ({type}); the curves so far are kept.",
    "replay_open": "Replay a run",
    "replay_file": "A run record (the “Run record (JSON)” download)",
    "replay_help": "Shows every tab as it was when the file was saved; nothing trains. JSON only, at most 16 MB.",
    "replay_close": "Close the replay",
    "replay_banner": "Replaying run #{run} from a file, as saved at step {step}. Nothing trains; close the replay "
                     "to run your own.",
    "replay_error_too_large": "This file is larger than 16 MB: not a run record from this lab.",
    "replay_error_not_json": "This file is not JSON: choose a “Run record (JSON)” download.",
    "replay_error_not_a_record": "This JSON file is not a BatchNorm Lab run record.",
    "replay_error_wrong_version": "This run record was written by another version of the lab and cannot be read.",
    "replay_error_bad_field": "This run record is damaged or incomplete.",
    "collapsed": "{net} collapsed at step {step}: {reason}",
    "collapsed_goes_on": "It keeps training: a collapse is stated, not enforced.",
    # -- buttons & status -----------------------------------------------------------------------------
    "start": "Start",
    "pause": "Pause",
    "resume": "Resume",
    "stop": "Stop",
    "reset": "Reset",
    "reset_help": "Stop the run and clear its charts; your settings stay.",
    "start_help": "Train with the settings in the sidebar.",
    # Live controls (ui/live_controls.py): they act on the run as it trains.
    "live_controls": "Live controls",
    "live_lr": "Learning rate now",
    "live_lr_apply": "Apply",
    "live_lr_help": "Both networks switch to this learning rate at the same step; the run record notes "
                    "the step. The sidebar's learning rate stays the one the run started with.",
    "live_steps": "Steps",
    "live_step": "Step",
    "live_step_help": "While paused: train exactly this many steps, then pause again.",
    "live_pause_at": "Pause at step",
    "live_pause_at_none": "none",
    "live_pause_at_set": "Set",
    "live_pause_at_help": "The run pauses by itself once it has trained this many steps. Clear the box and "
                          "press Set to cancel.",
    "live_pause_at_note": "Pauses at step {step}.",
    "live_refused": "Not applied: {problem}",
    "title_intro": "What BN does to one unit's inputs over a mini-batch",
    "intro_before": "before BN: mean {mean}, std {std}",
    "intro_after": "after BN (γ = 1, β = 0): mean {mean}, std {std}",
    "explain_intro": "512 made-up inputs to one unit: skewed, shifted and wide (orange). BN subtracts the "
                     "mini-batch mean and divides by its standard deviation (blue), then scales by γ and shifts "
                     "by β, both learned.",
    "look_intro": "Press **Start**: the lab trains a BN network and its plain twin side by side and shows "
                  "these distributions, layer by layer, as they evolve.",
    "no_run": "Choose a preset or settings in the sidebar and press **Start** — the charts come alive "
              "within a second or two.",
    "status_queued": "waiting for a free training slot",
    "status_queued_line": "Queued, position {position}: waiting for a free training slot "
                          "({busy} of {slots} busy on this server). It starts by itself.",
    "status_queued_line_ray": "Queued, position {position}: waiting for a free training slot "
                              "({busy} of {slots} busy in the Ray cluster). It starts by itself.",
    "backend_line": "Runs train on Ray, each in its own worker process: {free} of {slots} training slots "
                    "free on {nodes} machine(s).",
    "backend_connecting": "Connecting to Ray…",
    "backend_fallback": "Runs train in this server's threads: {problem}.",
    "page_backend_ray_unreachable": "the Ray cluster at {address} cannot be reached ({detail})",
    "page_backend_ray_missing": "Ray is not installed (pip install -r requirements-ray.txt)",
    "page_backend_unknown_backend": "BN_DEMO_BACKEND names no backend ({backend}: choose thread or ray)",
    "status_running": "running",
    "status_paused": "paused",
    "status_finished": "finished",
    "status_stopped": "stopped",
    "status_diverged": "diverged",
    "status_failed": "failed",
    "status_line": "Step {step} / {total} · {rate} samples/s · ETA {eta} · device: {device} · {status}",
    "status_loading": "Preparing the data and the networks… · device: {device}",
    "status_stopped_early": "Stopped before training began.",
    "status_paused_released": "Paused for more than {grace}: its training slot went back to the class. "
                              "**Resume** puts it in the queue again.",
    "status_requeued": "This run gave its training slot back while it was paused, so it waits in the queue again "
                       "and goes on by itself when a slot frees.",
    "stopped_budget_seconds": "Stopped at step {step}: on this server one run may train for at most {limit}. "
                              "Its charts and downloads stay here.",
    "stopped_budget_work": "Stopped at step {step}: on this server a run of this size (network × batch size) may "
                           "take at most {steps} steps; a smaller network or batch goes further. Its charts and "
                           "downloads stay here.",
    "run_lost": "Your previous run was stopped because this page lost its connection to the server (a computer "
                "that slept, a closed tab). Its charts are gone: press **Start** to run it again.",
    "eta_unknown": "—",
    "diverged": "{net} diverged at step {step}: {reason}",
    "diverged_goes_on": "The other network goes on training.",
    "reason_nan": "loss became NaN",
    "reason_inf": "loss became infinite",
    "run_failed": "The run failed: {message}",
    "url_warning": "Some settings in the link were not valid and were replaced by defaults: {fields}",
    "url_field": "{field} = {value} (allowed: {allowed})",
    "url_more": "and {n} more",
    "config_error": "This combination cannot run: {problem}",
    # A ConfigError (bn_demo/config.py RULES): what the setting allows, one text per rule code.
    "config_problem": "{field} = {value} — allowed: {allowed}",
    "allowed_conflict": "{allowed} (conflicts with {field})",
    "allowed_choice": "one of {options}",
    "allowed_integer": "an integer",
    "allowed_number": "a number",
    "allowed_integer_range": "an integer from {low} to {high}",
    "allowed_number_range": "a number in {interval}",
    "allowed_pace_range": "0 (full speed) or {low} to {high} steps per second",
    "allowed_hidden_format": "comma-separated integers, e.g. 32,32",
    "allowed_layers_range": "{low} to {high} hidden layers, e.g. 32,32",
    "allowed_width_range": "each width an integer from {low} to {high}",
    "allowed_unknown_setting": "a known setting: {known}",
    "allowed_unknown_parameter": "unknown setting",
    "allowed_device_absent": "a device this machine has ({devices})",
    "allowed_bn_batch_one": "at least 2 with BatchNorm (a batch of one has no variance; choose “Plain only”, or "
                            "only plain and LayerNorm networks, for batch size 1)",
    "allowed_no_steps": "at least 1 epoch or more than 0 steps (zero steps trains nothing)",
    "allowed_batch_over_split": "at most the training split's size ({n_train} examples)",
    "allowed_arms_count": "{low} to {high} different networks from {options}, e.g. bn,plain",
    "allowed_arms_model": "arms, or no --model at all, when --arms picks the networks",
    "data_splits": "Training split: **{train}** · held-out split: **{test}**",
    # -- metrics --------------------------------------------------------------------------------------
    "metric_acc": "{net} · accuracy",
    "metrics_caption": "Held-out split, eval mode (BN uses its running statistics); ⓘ gives each number's step.",
    "metrics_caption_seeds": "Held-out split, eval mode (BN uses its running statistics), mean ± sd over seeds "
                             "{first}–{last}; ⓘ gives each number's step. The loss and accuracy curves show the "
                             "same mean ± sd; every other chart shows seed {first}.",
    "metric_acc_help": "Eval mode (BN uses running statistics) on the whole held-out split ({split}), at step {step}.",
    "metric_loss": "{net} · loss",
    "net_bn": "BN network",
    "net_plain": "plain network",
    "twin_bn": "BN",
    "twin_plain": "plain",
    "net_layernorm": "LayerNorm network",
    "twin_layernorm": "LayerNorm",
    "net_noisy-bn": "noisy-BN network",
    "twin_noisy-bn": "noisy BN",
    # Each network's parameters and where weight decay applies (record: parameters, parameter_groups,
    # weight_decay_on), under the metrics and under the CLI's table.
    "arms_caption": "Parameters: {parts}. Weight decay: {decay}.",
    "arms_part": "{net} {total}",
    "arms_part_norm": "{net} {total} (γ and β: {norm})",
    "arms_decay_off": "none (0)",
    "arms_decay_on": "{value} on {groups}, in every network that has them",
    "group_linear_weight": "Linear weights",
    "group_linear_bias": "Linear biases",
    "group_norm_weight": "γ",
    "group_norm_bias": "β",
    "arms_bias_note": "Before BN a Linear bias is redundant: BN subtracts it with the batch mean, and β takes its place.",
    # -- chart tabs -----------------------------------------------------------------------------------
    "tab_lesson": "Lesson",
    "tab_curves": "Loss & accuracy",
    "tab_distributions": "Distributions",
    "tab_paper": "BN paper view",
    "tab_gradients": "Gradients",
    "tab_internals": "BN internals",
    "tab_ics": "Covariate shift",
    "tab_predictions": "Predictions",
    "tab_downloads": "Export & history",
    "what_shows": "What it shows",
    "look_for": "What to look for",
    "waiting_data": "Waiting for the first measurements…",
    # -- chart axes / legends -------------------------------------------------------------------------
    "ax_step": "training step",
    "ax_loss": "cross-entropy loss",
    "ax_acc": "accuracy",
    "ax_value": "value",
    "ax_share": "share of probe values",
    "ax_grad": "‖∇W‖ (log scale)",
    "ax_unit_input": "input to the nonlinearity",
    "ax_inactive": "share",
    "ax_bin": "bin centre",
    "ax_l2": "‖G − G′‖",
    "ax_cos": "cos(G, G′)",
    "ax_mean": "mean",
    "ax_std": "standard deviation",
    "ax_variance": "variance (mean over units)",
    "ax_gamma_beta": "mean over units (± std)",
    "series_train": "{net} · training batch (train mode, smoothed)",
    "series_heldout": "{net} · held-out (eval mode)",
    "series_train_seeds": "{net} · training batch (train mode, smoothed), mean ± sd of {n} seeds",
    "series_heldout_seeds": "{net} · held-out (eval mode), mean ± sd of {n} seeds",
    "series_seeds": "{net} · mean ± sd of {n} seeds",
    "series_batchstats": "{net} · held-out, batch statistics",
    "series_past": "run #{run} {net} · held-out",
    "series_step": "{net} · step {step}",
    "series_layer": "{net} · {layer}",
    "series_median": "{net} · median",
    "series_band": "{net} · 15th–85th percentile",
    "series_running": "{layer} · running (eval mode)",
    "series_batch": "{layer} · probe batch (train mode)",
    "bn_stats_key": "solid: running, dotted: probe batch",
    "ax_share_batch": "share of the mini-batch",
    "heatmap_colour": "log(1+count)",
    "no_bn_in_plain": "The plain network has no BN layer.",
    "title_loss": "Loss",
    "title_acc": "Accuracy",
    "title_acc_heldout": "Held-out accuracy (eval mode)",
    "title_bands": "{layer} · {kind}: percentile bands over steps",
    "title_heatmap": "{layer} · {kind}: histogram over steps",
    "title_hist": "{layer} · {kind}: histograms at chosen steps",
    "title_paper": "Unit {unit} of {layer}: 15th / 50th / 85th percentile of its input to the nonlinearity",
    "title_grad": "Gradient norm per layer",
    "title_inactive": "Inactive units: {meaning}",
    "title_gamma_beta": "γ and β per BN layer",
    "title_bn_stats": "Running vs probe-batch statistics",
    "title_bn_acc": "Held-out accuracy: running vs batch statistics",
    "title_ics": "Internal covariate shift (Santurkar et al. 2018)",
    "title_drift": "Distribution drift of each layer's input to the nonlinearity",
    "title_gallery": "First {n} held-out images · labels predicted at step {step} (eval mode)",
    "kind_linear": "pre-BN (linear output)",
    "kind_bn": "post-BN",
    "kind_act": "post-activation",
    "kind_linear_plain": "linear output",
    "kind_bn_layernorm": "post-LayerNorm",
    "kind_bn_noisy-bn": "post-BN + noise",
    "kind_input": "input to the nonlinearity",
    "panel_input": "{net}: {kind}",
    "title_bands_grid": "Every hidden layer · {kind}: percentile bands over steps",
    "marker_lr": "lr → {lr}",
    "look_bands_input": "The same quantity in both networks, the one the BN paper plots: what each layer's "
                        "nonlinearity receives (BN: γx̂+β, plain: the linear output). Watch the plain network's band "
                        "drift or widen as the layers below it learn, while BN's stays centred with a steady spread.",
    "all_layers": "All layers",
    "all_layers_help": "Small multiples: every hidden layer at once, one row per layer, on the same value axis "
                       "in a row.",
    "smoothing": "Smoothing of the training-batch curve",
    "smoothing_help": "TensorBoard's exponential moving average of the per-batch values (0 = raw). Held-out "
                      "points are never smoothed.",
    "lesson_layer": "Layer to watch",
    "lesson_layer_option": "Layer: {layer}",
    "lesson_sentence": "**{layer}**, input to the nonlinearity on the probe batch (train mode), step {start} → "
                       "{step}: {parts}.",
    "lesson_part": "{net} spread ×{ratio}, median moved {shift}",
    "lesson_waiting": "The distributions appear with the first probes.",
    "projector": "Projector",
    "projector_help": "For a class at 1280×720: large chart text, the sidebar folded away, the lesson at full "
                      "width. The link keeps it (projector=1).",
    "projector_settings": "{preset} · {dataset} · lr {lr} · batch {batch} · {model}{seeds}. Turn off Projector to "
                          "change the settings.",
    "projector_seeds": " · seeds {first}–{last}",
    "gallery_correct": "✓",
    "gallery_wrong": "✗",
    "gallery_truth": "true: {label}",
    "outside_bins": "{share} of values fell outside the fixed bins at the latest step (counted, not re-binned).",
    # -- chart controls ---------------------------------------------------------------------------------
    "layer": "Layer",
    "hidden_layer": "hidden {n}",
    "output_layer": "output",
    "quantity": "Quantity",
    "compare_steps": "Steps to compare (share of the run so far)",
    "unit": "Unit of the last hidden layer",
    "overlay_past": "Overlay finished runs",
    # -- chart explanations -----------------------------------------------------------------------------
    "explain_loss": "Cross-entropy loss at every step. Faint lines: the training mini-batch in train mode "
                    "(smoothed, before the step's update); markers: the whole held-out split in eval mode.",
    "look_loss": "The BN network's loss usually drops sooner. A held-out loss rising while the training "
                 "loss falls is overfitting. A line that stops has diverged.",
    "explain_acc": "Accuracy on the training mini-batch (train mode) and on the held-out split (eval mode, "
                   "BN with its running statistics) — the BN paper's Fig. 1(a).",
    "look_acc": "BN climbs faster and often ends higher; with a high learning rate or a bad initialisation "
                "the plain network may stall at chance level (10%).",
    "explain_bands": "TensorBoard-style distribution: the nine band edges are the min, 7th, 16th, 31st, 50th, "
                     "69th, 84th, 93rd percentile and max of this layer's values on a fixed probe batch of "
                     "{n} training images, taken in train mode (batch statistics) every {every} steps.",
    "look_bands": "The plain network's band drifting, widening or collapsing (ReLU: squashed to 0; sigmoid: "
                  "pinned at 0 or 1). Choose post-BN to see what BN makes of the same values: a band that stays "
                  "centred near 0 with spread near 1.",
    "look_bands_bn": "Only the BN network has post-BN values: its band stays centred near 0 with spread near 1 "
                     "(γ and β move it slowly). Compare it with pre-BN, where both networks are drawn.",
    "explain_heatmap": "The same values as a step × bin picture: each column is one probe step, each row one of "
                       "the engine's fixed bins (chosen at step 0, identical for both networks and all steps); "
                       "colour is log(1 + count).",
    "look_heatmap": "A bright ridge that moves or spreads is a distribution shifting during training. Values "
                    "outside the fixed bins are counted as outside, never re-binned.",
    "explain_hist": "The histograms at the two steps you pick, BN and plain on the same axes, as the share of "
                    "probe values per bin. Choose pre-BN, post-BN or post-activation above.",
    "look_hist": "Compare an early and a late step: how far did each network's histogram move? Post-BN "
                 "histograms keep their place; pre-BN and plain ones may not.",
    "explain_paper": "Ioffe & Szegedy (2015), Fig. 1(b, c): the 15th, 50th and 85th percentile, over the probe "
                     "batch, of one unit's input to its nonlinearity in the last hidden layer. In the BN "
                     "network that input is γx̂ + β.",
    "look_paper": "Without BN the band's centre and width drift as the layers below change; with BN it is "
                  "much more stable. The ioffe2015 preset (3×100 sigmoid) reproduces the paper's setting.",
    "explain_grad": "Norm of each layer's weight gradient from the latest training step (its mini-batch, train "
                    "mode), on a log scale. Solid: BN network; dashed: plain network.",
    "look_grad": "Vanishing: lower layers' norms orders of magnitude below the top layer's (deep-sigmoid; in "
                 "bad-init the plain net's norms sit near 1e-7; in high-lr its dead ReLUs pass no gradient at all: "
                 "a line on the zero floor). Exploding would be norms growing step after step until the loss "
                 "diverges.",
    "zero_floor": "0 (drawn on this floor)",
    "explain_inactive": "Share of {meaning}, on the probe batch in train mode.",
    "look_inactive": "Dead or saturated units pass no gradient. A rising share in the plain network means "
                     "layers that stopped learning; BN keeps inputs where the nonlinearity has slope.",
    "explain_gamma_beta": "The scale γ and shift β each BN layer learns, as the mean over its units (band: ± one "
                          "standard deviation across units). They start at γ = 1, β = 0.",
    "look_gamma_beta": "γ and β let BN undo the normalisation where that helps: BN restricts nothing the "
                       "network could otherwise represent.",
    "explain_bn_stats": "Running statistics (what eval mode uses: an exponential average with momentum m) beside "
                        "the probe batch's own mean and variance (what train mode uses), averaged over units.",
    "look_bn_stats": "While the network changes fast the running values lag behind the batch's; a smaller "
                     "momentum means a longer lag.",
    "explain_bn_acc": "The BN network's held-out accuracy two ways: eval mode (running statistics, what you would "
                      "deploy) and normalising each held-out mini-batch by its own statistics ({batch_mode}).",
    "look_bn_acc": "A gap early in training, when the running statistics still lag; it closes as they catch "
                   "up. A large late gap hints at a too-small batch or momentum.",
    "explain_ics": "Santurkar et al. (2018) measure ICS with gradients: for layer i, G is the gradient of its "
                   "weights at the step's start, G′ the same gradient after the layers below i have taken "
                   "their update (same batch). ‖G − G′‖ = 0 and cos(G, G′) = 1 mean no shift. Measured every "
                   "{every} steps on the training batch.",
    "explain_drift": "How each layer's input to the nonlinearity moves: its mean and standard deviation over the "
                     "probe batch (train mode).",
    "ics_honest": "**Two meanings of internal covariate shift.** Distribution drift (right) is what Ioffe & "
                  "Szegedy set out to remove. Santurkar et al. measure ICS instead as how much a layer's gradient "
                  "changes when the layers below it update (left), and found that BN does not reduce it; they "
                  "explain BN's benefit by a smoother loss landscape instead.",
    "ics_bn_larger": "**In this run** the median ‖G − G′‖ is **{ratio}× larger with BN** ({bn} vs {plain}, all "
                     "layers and measured steps): BN steadies the distributions without reducing this gradient-based "
                     "ICS.",
    "ics_bn_smaller": "**In this run** the median ‖G − G′‖ is **{ratio}× smaller with BN** ({bn} vs {plain}, all "
                      "layers and measured steps). ‖G − G′‖ grows with the gradients' size, so compare it with the "
                      "cosine below it.",
    "ics_not_yet": "The comparison appears once both networks have ICS measurements.",
    "ics_rel_larger": "Relative to the gradient's own size, ‖G − G′‖ / ‖G‖ is **{ratio}× larger with BN** ({bn} vs "
                      "{plain}).",
    "ics_rel_smaller": "Relative to the gradient's own size, ‖G − G′‖ / ‖G‖ is **{ratio}× smaller with BN** ({bn} vs "
                       "{plain}).",
    "ics_phases": "Split by phase: a network has *memorised* its training set from the first step after which its "
                  "training-batch accuracy, averaged over the last {window} steps, stays at or above {threshold}; "
                  "before that it is *learning*. With BN: {bn}; without BN: {plain}.",
    "ics_phase_from": "memorised from step {step}",
    "ics_phase_never": "not memorised (yet)",
    "ics_phase_line": "**{phase}** ({n_bn} and {n_plain} measurements): with BN, ‖G − G′‖ is {ratio}× the plain "
                      "network's and the relative one {rel_ratio}×.",
    "ics_phase_empty": "**{phase}**: no measurements from both networks in this phase (yet).",
    "phase_learning": "Learning",
    "phase_memorised": "Memorised",
    "drift_numbers": "**Distribution drift in this run**, of the input to the nonlinearity in {layer} at step {step}, "
                     "each network against itself at step 0 (before any update): the median moved by {bn_shift} "
                     "with BN and {plain_shift} without; the 15th–85th percentile spread is {bn_spread}× and "
                     "{plain_spread}× its step-0 width; the histogram's distance from its step-0 shape "
                     "(Wasserstein-1, in the quantity's own units) is {bn_w1} and {plain_w1}.",
    "drift_outside": "{share} of the {net}'s values now lie outside the fixed bins; W1 counts them at the nearest "
                     "edge, so that distance is a lower bound.",
    "drift_not_yet": "The drift numbers appear once both networks have a second probe.",
    # Arms beyond BN and plain (layernorm, noisy-bn; or any set without both): each against the plain network
    # when the run has one, else against the first network of the run (record.ics_comparison, drift_series).
    "ics_arm_line": "**{net}** against the {ref}: median ‖G − G′‖ {arm} vs {other} ({ratio}×), relative to the "
                    "gradient's size {rel_ratio}×.",
    "drift_arm_line": "**{net}**: the median moved by {shift}; the 15th–85th percentile spread is {spread}× its "
                      "step-0 width; W1 of the histogram from step 0 is {w1}, and of the typical unit's own values "
                      "{unit_w1}.",
    "drift_arm_intro": "**Distribution drift in this run**, of the input to the nonlinearity in {layer} at step {step}, "
                       "each network against itself at step 0 (before any update):",
    "explain_gallery": "The first {n} images of the held-out split ({split}) with each network's predicted label "
                       "at the latest evaluation (eval mode). A red ✗ marks a mistake.",
    "look_gallery": "Early on, the plain network gets many wrong while BN already reads most digits. Mistakes "
                    "late in training are often genuinely ambiguous images.",
    "gallery_none": "Predictions appear after the first evaluation.",
    # -- export & history -------------------------------------------------------------------------------
    "downloads": "Download this run",
    "download_json": "Run record (JSON)",
    "download_csv": "Metrics (CSV)",
    "download_hist": "Histograms (JSON)",
    "download_help": "Includes the full configuration, the dataset splits and library versions.",
    "history": "Finished runs in this session",
    "history_empty": "Finished runs appear here; their curves can be overlaid on the current run's.",
    "history_row": "Run #{run}: {preset} · {dataset} · lr {lr} · batch {batch} · {status}",
    "col_run": "run",
    "col_net": "network",
    "col_settings": "settings",
    "col_status": "status",
    "col_steps": "steps",
    "col_acc": "held-out accuracy (eval mode)",
    # -- concepts ---------------------------------------------------------------------------------------
    "concepts_intro": "Four ideas behind the charts. Each chart in the lab links back to one of them.",
    "concept_grad_title": "Vanishing and exploding gradients",
    "concept_grad": "Backpropagation multiplies, layer by layer, the derivative of each nonlinearity and each "
                    "weight matrix. The sigmoid's slope is at most 1/4, so through many sigmoid layers the "
                    "gradient shrinks roughly geometrically and the lower layers barely learn (vanishing). Weights "
                    "that are too large make the product grow instead (exploding), and training diverges. Good "
                    "initialisation keeps each layer's gain near 1; BN does so at every step, whatever the weights.",
    "concept_ics_title": "Internal covariate shift",
    "concept_ics": "Ioffe & Szegedy (2015) called the change in a layer's input distribution, caused by updates to "
                   "the layers below it, *internal covariate shift* — each layer chases a moving target. BN "
                   "fixes each unit's mean and variance over the mini-batch. Santurkar et al. (2018) later showed "
                   "that BN networks train well even with noise injected to make distributions unstable, and that "
                   "a gradient-based measure of ICS is not reduced by BN; BN helps mainly because the loss "
                   "landscape becomes smoother.",
    "concept_bn_title": "What BatchNorm computes",
    "concept_bn": "For each unit, over a mini-batch of n values x₁…x_n (in training):",
    "concept_bn_after": "ε (1e-5) avoids division by zero. γ and β are learned per unit, so the layer can "
                        "represent the identity if that is best. Placed before the nonlinearity, the bias of the "
                        "linear layer is redundant: β takes its role.",
    "concept_mode_title": "Train mode vs eval mode",
    "concept_mode": "In train mode BN normalises with the current mini-batch's statistics and updates running "
                    "averages (PyTorch: running ← (1 − m)·running + m·batch, with the unbiased variance). In "
                    "eval mode it uses those running averages, so a prediction does not depend on the other "
                    "images in the batch. A batch of one has no variance: BN cannot train on it. In this lab the "
                    "held-out numbers are eval mode; the probe distributions are train mode on a fixed probe "
                    "batch, computed without touching the running statistics.",
    # -- words for the run record's codes (bn_demo/record.py) ------------------------------------------
    "chance": "chance {share}",
    "inactive_relu": "dead ReLUs: units that output 0 for every probe example",
    "inactive_sigmoid": "saturated sigmoid outputs (below 0.02 or above 0.98)",
    "inactive_tanh": "saturated tanh outputs (|a| > 0.98)",
    "mode_eval_batch_stats": "train mode: BN uses each held-out mini-batch's own statistics (training batch size)",
    "mode_probe": "train mode, batch statistics of the fixed probe batch (BN running statistics untouched; "
                  "weights after the step's update)",
    "reason_exploded": "loss exploded to {loss} (more than {limit}, {factor}× its first value)",
    "reason_collapsed": "every ReLU in {layers} outputs 0 on the whole probe batch: no gradient reaches the layers below",
    "split_full": "{title} {file} ({n})",
    "split_seeded_train": "{title} training part ({n}, seeded split)",
    "split_seeded_test": "{title} held-out part ({n}, seeded split)",
    "split_partial_train": "{title} test[:{stop}] (training split unavailable)",
    "split_partial_test": "{title} test[{start}:] ({n} held out)",
    "file_train": "train",
    "file_test": "test",
    "partial_note": "Only the {title} test split is on disk ({why}): training on its first {n_train} images and "
                    "evaluating on the other {n_test}.",
    "partial_download_failed": "the download failed",
    "partial_train_missing": "the training files are missing",
    "points": "{value} pts",
    "data_problem_download_failed": "{name} could not be downloaded (no internet connection?).",
    "data_problem_not_on_disk": "{name} is not on the server and downloads are off.",
    "data_problem_file_missing": "{name}: the file {file} is missing.",
    "data_problem_md5_mismatch": "{name}: {file} fails its md5 check (a damaged download).",
    "data_problem_unreadable": "{name}: {file} is truncated or not an IDX file.",
    "data_problem_too_few_images": "{name}: {file} holds {count} images, expected {expected}.",
    "data_problem_wrong_shape": "{name}: {file} holds images of shape {shape}, expected 28×28.",
    "data_problem_count_mismatch": "{name}: {file} has {count} images but {label_file} has {labels} labels.",
    "data_problem_labels_out_of_range": "{name}: {file} has labels outside 0–9.",
    "config_problem_exception": "An error inside the run: {type}.",
    # -- command line (bn_demo/cli.py): the CLI prints these in English --------------------------------
    "cli_description": "BatchNorm Lab, headless.",
    "cli_help_train": "train (lockstep BN/plain twins by default) and report",
    "cli_help_presets": "list the presets",
    "cli_help_show": "print the summary table of a saved run record (a train --out file)",
    "cli_help_reproduce": "reproduce a paper figure (fig1, santurkar)",
    "cli_help_record": "a run record written by train --out (JSON)",
    "cli_help_out": "write the run record as JSON (bn_demo/record.py)",
    "cli_help_csv": "write the per-step metrics as CSV (one row per twin, series and step)",
    "cli_help_quiet": "no progress bar",
    "cli_help_data_dir": "where datasets are downloaded/read (else $BN_DEMO_DATA_DIR, else ./data)",
    "cli_help_model": "both = lockstep BN and plain twins; arms = the networks --arms picks",
    "cli_help_hidden": "hidden widths, e.g. 32,32",
    "cli_help_steps": "train exactly this many steps (overrides --epochs)",
    "cli_help_init_std": "σ of the Gaussian init",
    "cli_help_probe_every": "steps between probes (0 = automatic)",
    "cli_help_pace": "at most this many steps per second (0 = full speed)",
    "cli_help_no_probes": "train without any observation",
    "cli_error": "error: {message}",
    "cli_unwritable": "error: {flag} {path}: {why}",
    "cli_is_directory": "is a directory",
    "cli_save_failed": "error: could not write {path} ({why}); the result is in {kept}",
    "cli_data_folder": "data folder: {folder}",
    "cli_offline_hint": "hint: --dataset {dataset} works offline",
    "cli_progress": "step {step}/{total}  {rate} samples/s  ETA {eta}  {status}",
    "cli_dataset_line": "dataset: train = {train}, held-out = {test}",
    "cli_note": "note: {note}",
    "cli_run_line": "device: {device}   steps: {step} / {total}   train time: {seconds} s   samples/s: {rate}   "
                    "run: {status}",
    "cli_col_twin": "twin",
    "cli_col_outcome": "outcome",
    "cli_col_at_step": "at step",
    "cli_col_train_loss": "train loss",
    "cli_col_test_loss": "test loss",
    "cli_col_test_acc": "test acc",
    "cli_col_eval_step": "eval step",
    "cli_outcome_collapsed": "collapsed",
    "cli_repeats_line": "The table is seed {first}'s. Held-out accuracy (eval mode) over seeds {first}–{last}, trained "
                        "side by side, mean ± sd: {spreads}",
    "cli_footnote": "at step: where a twin diverged or collapsed. train loss: mean batch loss of the last steps "
                    "(train mode); test: whole held-out split, eval mode (BN running statistics), from the "
                    "evaluation at eval step.",
    "cli_bad_record": "error: {path} is not a run record this version can read: {why}",
    "cli_record_not_json": "not JSON",
    "cli_record_not_a_record": "not a BatchNorm Lab run record",
    "cli_record_wrong_version": "record version {detail}, this version reads version {version}",
    "cli_record_bad_field": "the field {detail} is missing or malformed",
    "cli_record_too_large": "larger than {limit} MB",
    "cli_unreadable": "error: cannot read {path}: {why}",
    # sweep (bn_demo/cli.py `sweep`, numbers from bn_demo/sweep.py)
    "cli_help_sweep": "train the twins at each learning rate of a grid and compare them: steps to a target held-out "
                      "accuracy, divergence, collapse",
    "cli_help_lrs": "learning rates: lo:hi:count (count rates evenly spaced in log, both ends included) or a comma "
                    "list (default {default})",
    "cli_help_seeds": "seeds, e.g. 1, 1-5 or 1,3,5 (default: --seed)",
    "cli_help_arms": "the networks trained in lockstep, 1 to 4 of bn, plain, layernorm, noisy-bn, e.g. "
                     "plain,bn,layernorm,noisy-bn (default: --model)",
    "cli_help_target": "the held-out accuracy (eval mode, between 0 and 1) a run must reach (default {default})",
    "cli_help_sweep_out": "write the sweep as JSON (format bn-lab-sweep, bn_demo/sweep.py)",
    "cli_help_sweep_csv": "write one CSV row per learning rate, seed and twin",
    "cli_sweep_grid_format": "{text}: expected lo:hi:count or a comma list of learning rates",
    "cli_sweep_grid_positive": "{value} is not a positive number",
    "cli_sweep_grid_count": "between {low} and {high} learning rates",
    "cli_sweep_grid_order": "the last rate ({high}) must be above the first ({low})",
    "cli_sweep_seeds_format": "{text}: expected seeds such as 1, 1-5 or 1,3,5",
    "cli_sweep_seeds_count": "at most {high} seeds",
    "cli_sweep_arms_unknown": "unknown network {arm} (known: {options})",
    "cli_sweep_arms_format": "{text}: expected networks such as bn,plain, each once",
    "cli_sweep_target": "{value}: expected a held-out accuracy above 0 and at most 1",
    "cli_sweep_conflict": "{flag} cannot be combined with {other} in a sweep",
    "cli_sweep_progress": "run {index}/{total}: lr {lr}, seed {seed}  step {step}/{steps}",
    "cli_sweep_run": "run {index}/{total}: lr {lr}, seed {seed}: {outcomes} ({seconds} s)",
    "cli_sweep_arm_outcome": "{twin} {outcome}",
    "cli_sweep_arm_outcome_at": "{twin} {outcome} at step {step}",
    "cli_sweep_line": "device: {device}   runs: {runs} (learning rates: {lrs}, seeds: {seeds})   steps per run: {steps}"
                      "   time: {seconds} s",
    "cli_sweep_incomplete": "interrupted: the tables hold the {done} of {total} runs that ended",
    "cli_col_lr": "lr",
    "cli_sweep_col_steps": "steps to {target}",
    "cli_sweep_col_reached": "reached",
    "cli_sweep_col_final_acc": "final test acc",
    "cli_sweep_outcome_count": "{outcome} {count}/{runs}",
    "cli_sweep_tolerance": "Highest learning rate each twin tolerates (grid {low} to {high}):",
    "cli_sweep_col_highest_target": "reaches {target}",
    "cli_sweep_col_highest_trained": "no divergence or collapse",
    "cli_sweep_col_fastest": "fastest to {target}",
    "cli_sweep_fastest": "lr {lr} ({steps} steps)",
    "cli_sweep_ratio": "{twin} against {reference}: {reaching} the highest rate reaching {target}, {trained} the highest "
                       "rate without divergence or collapse.",
    "cli_sweep_same_rate": "At the same learning rate (where every seed of both twins reaches {target}):",
    "cli_sweep_col_ref_steps": "{reference} steps",
    "cli_sweep_col_saved": "fewer steps",
    "cli_sweep_saved": "{steps} ({speedup})",
    "cli_sweep_col_ref_acc": "{reference} final acc",
    "cli_sweep_col_gain": "acc difference",
    "cli_sweep_same_rate_none": "No learning rate where both twins reach {target}.",
    "cli_sweep_footnote": "steps to {target}: the first evaluation at or above {target} accuracy on the whole held-out "
                          "split in eval mode (BN running statistics), evaluated every {eval_every} steps and at each "
                          "epoch end; — never. at step: where a twin diverged or collapsed (over seeds, the earliest); "
                          "a diverged twin's final accuracy is from its last evaluation before it diverged. Highest "
                          "rate: every seed reaches the target, or ends without divergence or collapse; ≥ marks the "
                          "grid's top rate (the limit may lie above it). Over seeds: mean ± sd.",
    # seeds (bn_demo/cli.py `train --seeds`, numbers from bn_demo/seeds.py)
    "cli_seeds_help": "train once per seed, one after another, e.g. 1-5 or 1,3,5, and report each seed and the mean ± "
                      "sd over seeds (--out then writes a seeds file, format bn-lab-seeds, bn_demo/seeds.py; --csv one "
                      "row per seed and twin)",
    "cli_seeds_conflict": "{flag} cannot be combined with {other}",
    "cli_seeds_progress": "seed {seed} ({index}/{total})  step {step}/{steps}",
    "cli_seeds_run": "seed {seed} ({index}/{total}): {outcomes} ({seconds} s)",
    "cli_seeds_line": "device: {device}   seeds: {seeds} ({runs} ended)   steps per run: {steps}   time: {seconds} s",
    "cli_seeds_incomplete": "interrupted: the tables hold the {done} of {total} seeds that ended",
    "cli_seeds_col_seed": "seed",
    "cli_seeds_over": "Over {n} seeds (mean ± sd):",
    "cli_seeds_col_diverged_at": "diverged at step",
    "cli_seeds_col_collapsed_at": "collapsed at step",
    "cli_seeds_footnote": "Over seeds: mean ± sd, sd the sample standard deviation (n − 1 in the denominator), over "
                          "the seeds where the number exists ((n=k): only k of them); diverged / collapsed at step: "
                          "over the seeds where that happened. A diverged twin's test numbers are from its last "
                          "evaluation before it diverged.",
    # the sweep's figure (bn_demo/ui/sweep_view.py; not on the page yet)
    "sweep_intro": "A learning-rate sweep (python -m bn_demo sweep --out): each twin trained at every rate of a grid. "
                   "Dashed lines: each twin's highest rate that reaches the target (how much higher a rate BN "
                   "tolerates). The top panel at one rate: how much faster BN is at the same rate.",
    "sweep_upload": "A sweep file (JSON)",
    "sweep_example": "The bundled example: {dataset}, {optimizer}, learning rates {lrs}, seeds {seeds} ({runs} runs, "
                     "measured on the project's 2-core build machine). Open your own sweep file to see it instead.",
    "sweep_bad_file": "This file is not a sweep this version can read.",
    "sweep_panel_steps": "Steps to {target} held-out accuracy (eval mode; mean over seeds)",
    "sweep_panel_acc": "Final held-out accuracy (eval mode) and outcome of each run",
    "sweep_axis_lr": "learning rate (log scale)",
    "sweep_axis_steps": "steps",
    "sweep_axis_acc": "held-out accuracy",
    "sweep_legend_outcome": "{twin}: {outcome}",
    "sweep_highest": "{twin} up to {lr}",
    "sweep_hover_steps": "lr %{x:g}: %{y:,.0f} steps",
    "sweep_hover_acc": "lr %{x:g}: %{y:.1%}",
}

KO: dict[str, str] = {
    "page_title": "BatchNorm Lab",
    "tagline": "배치 정규화(BatchNorm)가 하는 일을 눈으로 확인하세요. BatchNorm이 **있는** 네트워크와 **없는 쌍둥이** "
               "네트워크가 같은 초기 가중치, 같은 미니배치, 같은 순서로 나란히 학습하므로, 보이는 차이는 모두 BN 때문입니다.",
    "tab_lab": "실험실",
    "tab_sweep": "학습률 스윕",
    "tab_concepts": "개념",
    "language": "언어",
    "sidebar_setup": "실험 설정",
    "preset": "프리셋",
    "preset_help": "프리셋은 고전적인 실험 하나에 맞게 아래 설정을 모두 채웁니다. 어느 설정이든 바꿀 수 있습니다.",
    "preset_summary_tutorial": "기본 튜토리얼: 784-32-32-10 ReLU MLP, Adam 학습률 0.01, 배치 32, 10 에포크, 시드 1 — "
                               "두 네트워크 모두 배우고, BN이 조금 더 빨리 도달합니다.",
    "preset_summary_ioffe2015": "BN 논문 §4.1 (그림 1): 3×100 시그모이드, 가우시안 초기화 σ 0.1, SGD 학습률 0.1, 배치 60, "
                                "50,000 스텝 — 일반 네트워크는 멈춰 있다가, 유닛마다 시그모이드 입력이 넓어지는 가운데 "
                                "(끝까지 약 ×49) 배우기 시작합니다. BN은 곧바로 배우고 유닛의 띠는 ×1.9 넓어집니다.",
    "preset_summary_high-lr": "일반 네트워크에는 너무 큰 학습률 2의 SGD: ReLU가 죽어 우연 수준(손실 2.30)에 머물고, "
                              "BN 쌍둥이는 배웁니다 (MNIST 8,000장으로 3 에포크 후 약 94%).",
    "preset_summary_bad-init": "σ = 0.001로 뽑은 너무 작은 가중치: 일반 네트워크는 신호와 기울기가 층마다 줄어 우연 "
                               "수준을 벗어나지 못하고, BN은 모든 층의 크기를 다시 맞춰 곧바로 배웁니다.",
    "preset_summary_deep-sigmoid": "시그모이드 8층: 기울기가 아래로 가며 사라져 일반 네트워크는 거의 움직이지 않고, BN은 "
                                   "모든 층의 기울기를 살려 둡니다.",
    "preset_summary_no-cure-all": "BN이 만능은 아닙니다: 학습률 10의 SGD. 일반 네트워크는 몇 스텝 만에 발산하고, BN도 "
                                  "조금 더 버틸 뿐 역시 우연 수준에 머뭅니다 (MNIST, 시드 1–5: 3번은 한 층의 ReLU가 모두 죽고, "
                                  "1번은 발산, 1번은 한 층의 ReLU 97 %가 죽음).",
    "dataset": "데이터셋",
    "model_mode": "네트워크",
    "model_both": "BN과 일반 비교",
    "model_bn": "BN만",
    "model_plain": "일반만",
    "model_arms": "네트워크 고르기",
    "arms": "나란히 학습할 네트워크",
    "arms_help": "다음 중 1–4개: BN; 일반 (정규화 없음); BN 자리에 LayerNorm (예제마다 층의 유닛들에 걸쳐 정규화: "
                 "학습과 평가에서 같음); 잡음 BN (Santurkar 외 2018: BN 뒤에 잡음을 더하며, 유닛마다 평균(±0.5)과 "
                 "배율(1–1.25)이 스텝마다 바뀌어 분포가 일부러 불안정함; 평가에서는 잡음의 평균을 씀). 모두 같은 "
                 "Linear 가중치에서 출발해 같은 배치로 학습합니다. 위의 “네트워크 고르기”에서 고르세요.",
    "section_training": "학습",
    "lr": "학습률 (로그 눈금)",
    "batch_size": "배치 크기",
    "run_length": "에포크",
    "steps": "스텝 수 (0 = 에포크 기준)",
    "steps_help": "0보다 크면 에포크 대신 이 스텝 수만큼 학습합니다 (BN 논문은 50,000 스텝).",
    "optimizer": "옵티마이저",
    "opt_sgd": "SGD",
    "opt_momentum": "SGD + 모멘텀 0.9",
    "opt_adam": "Adam",
    "section_network": "네트워크 구조",
    "activation": "활성화 함수",
    "depth": "은닉층 수 (깊이)",
    "width": "층당 유닛 수 (너비)",
    "init": "가중치 초기화",
    "init_default": "PyTorch 기본값 (Kaiming 균등)",
    "init_gaussian": "가우시안 N(0, σ²)",
    "init_std": "초기화 σ",
    "section_bn": "BatchNorm",
    "bn_placement": "BN 위치",
    "place_before": "비선형 함수 앞 (논문)",
    "place_after": "비선형 함수 뒤",
    "bn_momentum": "BN 모멘텀",
    "bn_momentum_help": "PyTorch 규약: 이동 평균 = (1 − m)·이동 평균 + m·배치 통계. Keras의 0.99는 m = 0.01입니다.",
    "bn_disabled": "일반 네트워크만: 설정할 BN 층이 없습니다.",
    "section_run": "실행",
    "seed": "시드",
    "seed_help": "시드가 같으면 초기 가중치와 배치도 같아 실행이 재현됩니다.",
    "repeats": "함께 돌릴 시드 수",
    "repeats_help": "같은 설정을 이 수만큼의 시드(위의 시드와 그다음 시드들)로 한 실행 안에서 나란히 학습합니다. "
                    "손실과 정확도 곡선은 시드 평균과 ±1 표준편차 띠로 그려져, 진짜 차이와 운을 가를 수 있습니다. "
                    "다른 그래프는 모두 첫 시드를 보여 줍니다. 시드가 하나 늘 때마다 실행 한 번보다 조금 적은 시간이 더 "
                    "듭니다(학습과 평가만 하고 프로브는 하지 않습니다).",
    "pace": "속도",
    "pace_full": "최고 속도",
    "pace_slow": "슬로 모션",
    "pace_rate": "초당 스텝 수",
    "pace_help": "슬로 모션은 학습 속도를 제한해 수업에서 분포가 움직이는 모습을 지켜볼 수 있게 합니다.",
    "device": "장치",
    "device_auto": "자동 → {found}",
    "device_found": "이 컴퓨터에서 찾은 장치: {devices}.",
    "share_help": "주소창에 모든 설정이 들어 있습니다. 페이지 URL을 복사해 이 실험을 공유하세요.",
    "settings_apply_next": "설정이 바뀌었습니다. 다음 실행부터 적용됩니다 (정지 또는 초기화 후 시작).",
    "data_offline": "scikit-learn에 포함되어 있어 오프라인에서도 됩니다.",
    "data_cached": "서버의 데이터 폴더에 저장되어 있습니다.",
    "data_partial": "서버의 데이터 폴더에 테스트 분할만 있습니다. 그 일부로 학습하고 나머지로 평가합니다.",
    "data_missing": "아직 서버의 데이터 폴더에 없습니다. 시작하면 그곳에 내려받습니다 (인터넷 필요).",
    "data_unavailable": "사용할 수 없음: {problem} 시작하면 오프라인 8×8 숫자 데이터를 대신 사용합니다.",
    "data_downloading": "{name} 불러오는 중… (디스크에 없으면 내려받는 중)",
    "fallback_notice": "{problem} 이번 실행은 오프라인 8×8 숫자 데이터를 대신 사용하며, {steps} 스텝 학습합니다 (계획한 "
                       "실행의 길이, 최대 {most}).",
    "technical_detail": "기술적 세부 사항",
    "cli_help_backend": "실행이 학습하는 곳: thread (이 프로세스, 기본값) 또는 ray (자체 워커 프로세스의 Ray 액터; 로컬 "
                        "Ray 또는 $BN_DEMO_RAY_ADDRESS의 클러스터)",
    "backend_ray_missing": "ray 백엔드에는 Ray가 필요합니다: pip install -r requirements-ray.txt",
    "backend_ray_unreachable": "{address}의 Ray 클러스터에 연결할 수 없습니다 ({detail}). 로컬 Ray를 쓰려면 "
                               "BN_DEMO_RAY_ADDRESS를 지우거나 --backend thread를 사용하세요",
    "backend_unknown_backend": "알 수 없는 백엔드 {backend}: thread 또는 ray를 고르세요",
    "worker_lost": "이 실행을 학습하던 프로세스가 예기치 않게 끝났습니다 ({type}). 지금까지의 곡선은 남아 있습니다.",
    "replay_open": "다시 보기",
    "replay_file": "실행 기록 (“실행 기록 (JSON)” 다운로드 파일)",
    "replay_help": "파일을 저장했을 때의 모든 탭을 그대로 보여 줍니다. 학습은 하지 않습니다. JSON만, 최대 16 MB.",
    "replay_close": "다시 보기 닫기",
    "replay_banner": "파일에서 실행 #{run}을(를) 스텝 {step} 시점 그대로 다시 보는 중입니다. 학습하지 않습니다. 직접 "
                     "실행하려면 다시 보기를 닫으세요.",
    "replay_error_too_large": "16 MB보다 큰 파일입니다: 이 실험실의 실행 기록이 아닙니다.",
    "replay_error_not_json": "JSON 파일이 아닙니다: “실행 기록 (JSON)” 다운로드 파일을 고르세요.",
    "replay_error_not_a_record": "이 JSON 파일은 BatchNorm Lab 실행 기록이 아닙니다.",
    "replay_error_wrong_version": "다른 버전의 실험실이 쓴 실행 기록이라 읽을 수 없습니다.",
    "replay_error_bad_field": "실행 기록이 손상되었거나 불완전합니다.",
    "collapsed": "{net}이(가) 스텝 {step}에서 붕괴했습니다: {reason}",
    "collapsed_goes_on": "학습은 계속됩니다: 붕괴는 알려 줄 뿐 학습을 멈추지 않습니다.",
    "start": "시작",
    "pause": "일시정지",
    "resume": "계속",
    "stop": "정지",
    "reset": "초기화",
    "reset_help": "실행을 멈추고 차트를 지웁니다. 설정은 그대로 남습니다.",
    "start_help": "사이드바의 설정으로 학습합니다.",
    "live_controls": "실시간 조절",
    "live_lr": "지금 학습률",
    "live_lr_apply": "적용",
    "live_lr_help": "두 네트워크가 같은 스텝부터 이 학습률로 학습하고, 실행 기록에 그 스텝이 남습니다. "
                    "사이드바의 학습률은 실행을 시작할 때의 값 그대로입니다.",
    "live_steps": "스텝 수",
    "live_step": "스텝 진행",
    "live_step_help": "일시정지 중에: 정확히 이만큼 스텝을 학습한 뒤 다시 일시정지합니다.",
    "live_pause_at": "일시정지할 스텝",
    "live_pause_at_none": "없음",
    "live_pause_at_set": "설정",
    "live_pause_at_help": "이 스텝까지 학습하면 저절로 일시정지합니다. 칸을 비우고 설정을 누르면 취소됩니다.",
    "live_pause_at_note": "스텝 {step}에서 일시정지합니다.",
    "live_refused": "적용하지 않았습니다: {problem}",
    "title_intro": "미니배치에서 BN이 한 유닛의 입력에 하는 일",
    "intro_before": "BN 전: 평균 {mean}, 표준편차 {std}",
    "intro_after": "BN 후 (γ = 1, β = 0): 평균 {mean}, 표준편차 {std}",
    "explain_intro": "한 유닛에 들어오는 가상의 입력 512개입니다. 치우치고, 이동하고, 넓게 퍼져 있습니다(주황). BN은 "
                     "미니배치 평균을 빼고 표준편차로 나눈 뒤(파랑), 학습되는 γ로 곱하고 β만큼 이동합니다.",
    "look_intro": "**시작**을 누르면 BN 네트워크와 일반 쌍둥이 네트워크를 나란히 학습시키며, 이런 분포가 층마다 "
                  "어떻게 변하는지 보여 줍니다.",
    "no_run": "사이드바에서 프리셋이나 설정을 고르고 **시작**을 누르세요. 1~2초 안에 차트가 움직이기 시작합니다.",
    "status_queued": "학습 슬롯을 기다리는 중",
    "status_queued_line": "대기열 {position}번째: 빈 학습 슬롯을 기다리는 중 (이 서버의 슬롯 {slots}개 중 {busy}개 사용 중). "
                          "차례가 되면 자동으로 시작됩니다.",
    "status_queued_line_ray": "대기열 {position}번째: 빈 학습 슬롯을 기다리는 중 (Ray 클러스터의 슬롯 {slots}개 중 "
                              "{busy}개 사용 중). 차례가 되면 자동으로 시작됩니다.",
    "backend_line": "실행은 Ray에서 각자의 워커 프로세스로 학습합니다: 머신 {nodes}대의 학습 슬롯 {slots}개 중 "
                    "{free}개가 비어 있습니다.",
    "backend_connecting": "Ray에 연결하는 중…",
    "backend_fallback": "실행은 이 서버의 스레드에서 학습합니다: {problem}.",
    "page_backend_ray_unreachable": "{address}의 Ray 클러스터에 연결할 수 없습니다 ({detail})",
    "page_backend_ray_missing": "Ray가 설치되어 있지 않습니다 (pip install -r requirements-ray.txt)",
    "page_backend_unknown_backend": "BN_DEMO_BACKEND가 알 수 없는 백엔드를 가리킵니다 ({backend}: thread 또는 ray를 고르세요)",
    "status_running": "실행 중",
    "status_paused": "일시정지됨",
    "status_finished": "완료",
    "status_stopped": "정지됨",
    "status_diverged": "발산함",
    "status_failed": "실패",
    "status_line": "스텝 {step} / {total} · 초당 {rate}개 샘플 · 남은 시간 {eta} · 장치: {device} · {status}",
    "status_loading": "데이터와 네트워크를 준비하는 중… · 장치: {device}",
    "status_stopped_early": "학습을 시작하기 전에 정지되었습니다.",
    "status_paused_released": "{grace} 넘게 일시정지되어 학습 슬롯을 다른 학생들에게 돌려주었습니다. "
                              "**계속**을 누르면 다시 대기열에 들어갑니다.",
    "status_requeued": "일시정지 중에 학습 슬롯을 돌려주었기 때문에 다시 대기열에서 기다립니다. "
                       "슬롯이 비면 자동으로 이어서 학습합니다.",
    "stopped_budget_seconds": "스텝 {step}에서 정지됨: 이 서버에서는 실행 하나가 최대 {limit} 동안 학습할 수 있습니다. "
                              "차트와 다운로드는 그대로 남아 있습니다.",
    "stopped_budget_work": "스텝 {step}에서 정지됨: 이 서버에서는 이 크기(네트워크 × 배치 크기)의 실행이 최대 {steps} "
                           "스텝까지 학습할 수 있습니다. 네트워크나 배치를 줄이면 더 오래 학습합니다. 차트와 다운로드는 "
                           "그대로 남아 있습니다.",
    "run_lost": "이 페이지와 서버의 연결이 끊겨(컴퓨터 절전, 탭 닫힘 등) 이전 실행이 정지되었습니다. "
                "차트는 남아 있지 않으니 **시작**을 눌러 다시 실행하세요.",
    "eta_unknown": "—",
    "diverged": "{net}가 스텝 {step}에서 발산했습니다: {reason}",
    "diverged_goes_on": "다른 네트워크는 계속 학습합니다.",
    "reason_nan": "손실이 NaN이 되었습니다",
    "reason_inf": "손실이 무한대가 되었습니다",
    "run_failed": "실행이 실패했습니다: {message}",
    "url_warning": "링크의 일부 설정이 올바르지 않아 기본값으로 바꾸었습니다: {fields}",
    "url_field": "{field} = {value} (허용: {allowed})",
    "url_more": "외 {n}개",
    "config_error": "이 조합은 실행할 수 없습니다: {problem}",
    "config_problem": "{field} = {value} — 허용: {allowed}",
    "allowed_conflict": "{allowed} ({field} 설정과 충돌)",
    "allowed_choice": "{options} 중 하나",
    "allowed_integer": "정수",
    "allowed_number": "수",
    "allowed_integer_range": "{low}부터 {high}까지의 정수",
    "allowed_number_range": "{interval} 범위의 수",
    "allowed_pace_range": "0 (최고 속도) 또는 초당 {low}–{high} 스텝",
    "allowed_hidden_format": "쉼표로 구분한 정수, 예: 32,32",
    "allowed_layers_range": "은닉층 {low}–{high}개, 예: 32,32",
    "allowed_width_range": "각 너비는 {low}부터 {high}까지의 정수",
    "allowed_unknown_setting": "알려진 설정: {known}",
    "allowed_unknown_parameter": "알 수 없는 설정",
    "allowed_device_absent": "이 컴퓨터에 있는 장치 ({devices})",
    "allowed_bn_batch_one": "BatchNorm을 쓰려면 2 이상 (배치가 하나면 분산이 없습니다. 배치 크기 1은 “일반만” 또는 "
                            "일반과 LayerNorm 네트워크만 고르세요)",
    "allowed_no_steps": "에포크 1 이상 또는 스텝 수 1 이상 (0 스텝으로는 아무것도 학습하지 않습니다)",
    "allowed_batch_over_split": "학습 분할의 크기 이하 ({n_train}개)",
    "allowed_arms_count": "{options} 중 서로 다른 네트워크 {low}–{high}개, 예: bn,plain",
    "allowed_arms_model": "--arms로 네트워크를 고를 때는 arms 또는 --model 생략",
    "data_splits": "학습 분할: **{train}** · 평가(held-out) 분할: **{test}**",
    "metric_acc": "{net} · 정확도",
    "metrics_caption": "평가 분할, 평가 모드 (BN은 이동 통계 사용). ⓘ에 각 값의 스텝이 있습니다.",
    "metrics_caption_seeds": "평가 분할, 평가 모드 (BN은 이동 통계 사용), 시드 {first}–{last}의 평균 ± 표준편차. "
                             "ⓘ에 각 값의 스텝이 있습니다. 손실·정확도 곡선도 같은 평균 ± 표준편차이고, 다른 그래프는 "
                             "모두 시드 {first}입니다.",
    "metric_acc_help": "평가 모드(BN은 이동 통계 사용), 평가 분할 전체({split}), 스텝 {step} 기준.",
    "metric_loss": "{net} · 손실",
    "net_bn": "BN 네트워크",
    "net_plain": "일반 네트워크",
    "twin_bn": "BN",
    "twin_plain": "일반",
    "net_layernorm": "LayerNorm 네트워크",
    "twin_layernorm": "LayerNorm",
    "net_noisy-bn": "잡음 BN 네트워크",
    "twin_noisy-bn": "잡음 BN",
    "arms_caption": "파라미터 수: {parts}. 가중치 감쇠: {decay}.",
    "arms_part": "{net} {total}",
    "arms_part_norm": "{net} {total} (γ와 β: {norm})",
    "arms_decay_off": "없음 (0)",
    "arms_decay_on": "{value}, {groups}에 (그 파라미터가 있는 모든 네트워크에서)",
    "group_linear_weight": "Linear 가중치",
    "group_linear_bias": "Linear 편향",
    "group_norm_weight": "γ",
    "group_norm_bias": "β",
    "arms_bias_note": "BN 앞의 Linear 편향은 쓸모가 없습니다: BN이 배치 평균과 함께 빼 버리고, β가 그 역할을 합니다.",
    "tab_lesson": "수업",
    "tab_curves": "손실과 정확도",
    "tab_distributions": "분포",
    "tab_paper": "BN 논문 그림",
    "tab_gradients": "기울기",
    "tab_internals": "BN 내부",
    "tab_ics": "공변량 변화",
    "tab_predictions": "예측",
    "tab_downloads": "내보내기와 기록",
    "what_shows": "무엇을 보여 주나",
    "look_for": "무엇을 볼까",
    "waiting_data": "첫 측정값을 기다리는 중…",
    "ax_step": "학습 스텝",
    "ax_loss": "교차 엔트로피 손실",
    "ax_acc": "정확도",
    "ax_value": "값",
    "ax_share": "프로브 값의 비율",
    "ax_grad": "‖∇W‖ (로그 눈금)",
    "ax_unit_input": "비선형 함수의 입력",
    "ax_inactive": "비율",
    "ax_bin": "구간 중심",
    "ax_l2": "‖G − G′‖",
    "ax_cos": "cos(G, G′)",
    "ax_mean": "평균",
    "ax_std": "표준편차",
    "ax_variance": "분산 (유닛 평균)",
    "ax_gamma_beta": "유닛 평균 (± 표준편차)",
    "series_train": "{net} · 학습 배치 (학습 모드, 평활)",
    "series_heldout": "{net} · 평가 분할 (평가 모드)",
    "series_train_seeds": "{net} · 학습 배치 (학습 모드, 평활), 시드 {n}개의 평균 ± 표준편차",
    "series_heldout_seeds": "{net} · 평가 분할 (평가 모드), 시드 {n}개의 평균 ± 표준편차",
    "series_seeds": "{net} · 시드 {n}개의 평균 ± 표준편차",
    "series_batchstats": "{net} · 평가 분할, 배치 통계",
    "series_past": "실행 #{run} {net} · 평가 분할",
    "series_step": "{net} · 스텝 {step}",
    "series_layer": "{net} · {layer}",
    "series_median": "{net} · 중앙값",
    "series_band": "{net} · 15–85 백분위",
    "series_running": "{layer} · running (평가 모드)",
    "series_batch": "{layer} · 프로브 배치 (학습 모드)",
    "bn_stats_key": "실선: running, 점선: 프로브 배치",
    "ax_share_batch": "미니배치에서의 비율",
    "heatmap_colour": "log(1+개수)",
    "no_bn_in_plain": "일반 네트워크에는 BN 층이 없습니다.",
    "title_loss": "손실",
    "title_acc": "정확도",
    "title_acc_heldout": "평가 분할 정확도 (평가 모드)",
    "title_bands": "{layer} · {kind}: 스텝별 백분위 띠",
    "title_heatmap": "{layer} · {kind}: 스텝별 히스토그램",
    "title_hist": "{layer} · {kind}: 고른 스텝의 히스토그램",
    "title_paper": "{layer}의 유닛 {unit}: 비선형 함수 입력의 15 / 50 / 85 백분위",
    "title_grad": "층별 기울기 노름",
    "title_inactive": "비활성 유닛: {meaning}",
    "title_gamma_beta": "BN 층별 γ와 β",
    "title_bn_stats": "running 통계와 프로브 배치 통계",
    "title_bn_acc": "평가 정확도: running 통계와 배치 통계",
    "title_ics": "내부 공변량 변화 (Santurkar 외, 2018)",
    "title_drift": "층별 비선형 함수 입력의 분포 이동",
    "title_gallery": "평가 분할의 처음 {n}장 · 스텝 {step}에서 예측한 레이블 (평가 모드)",
    "kind_linear": "BN 전 (선형 출력)",
    "kind_bn": "BN 후",
    "kind_act": "활성화 후",
    "kind_linear_plain": "선형 출력",
    "kind_bn_layernorm": "LayerNorm 후",
    "kind_bn_noisy-bn": "BN + 잡음 후",
    "kind_input": "비선형 함수의 입력",
    "panel_input": "{net}: {kind}",
    "title_bands_grid": "모든 은닉층 · {kind}: 스텝별 백분위 띠",
    "marker_lr": "학습률 → {lr}",
    "look_bands_input": "두 네트워크에 똑같이 있는 값, BN 논문이 그린 바로 그 값입니다: 각 층의 비선형 함수가 받는 입력 "
                        "(BN: γx̂+β, 일반: 선형 출력). 아래층이 학습하는 동안 일반 네트워크의 띠는 이동하거나 넓어지고, "
                        "BN의 띠는 가운데에 머물며 퍼짐도 일정합니다.",
    "all_layers": "모든 층",
    "all_layers_help": "작은 그림 여러 개: 모든 은닉층을 한꺼번에, 층마다 한 줄씩, 한 줄 안에서는 같은 값 축으로 보여 줍니다.",
    "smoothing": "학습 배치 곡선 평활화",
    "smoothing_help": "배치마다의 값에 TensorBoard의 지수 이동 평균을 적용합니다 (0 = 원래 값). 평가 분할의 점은 "
                      "평활화하지 않습니다.",
    "lesson_layer": "볼 층",
    "lesson_layer_option": "층: {layer}",
    "lesson_sentence": "**{layer}**, 프로브 배치에서 비선형 함수의 입력 (학습 모드), 스텝 {start} → {step}: {parts}.",
    "lesson_part": "{net} 퍼짐 ×{ratio}, 중앙값 이동 {shift}",
    "lesson_waiting": "첫 프로브가 끝나면 분포가 나타납니다.",
    "projector": "프로젝터",
    "projector_help": "1280×720 수업 화면용: 그래프 글자를 크게, 사이드바는 접고, 수업 보기를 전체 너비로. 링크에 "
                      "남습니다 (projector=1).",
    "projector_settings": "{preset} · {dataset} · 학습률 {lr} · 배치 {batch} · {model}{seeds}. 설정을 바꾸려면 "
                          "프로젝터를 끄세요.",
    "projector_seeds": " · 시드 {first}–{last}",
    "gallery_correct": "✓",
    "gallery_wrong": "✗",
    "gallery_truth": "정답: {label}",
    "outside_bins": "최근 스텝에서 값의 {share}가 고정 구간 밖에 있었습니다 (다시 나누지 않고 따로 셉니다).",
    "layer": "층",
    "hidden_layer": "은닉층 {n}",
    "output_layer": "출력층",
    "quantity": "측정 위치",
    "compare_steps": "비교할 스텝 (지금까지 진행의 비율)",
    "unit": "마지막 은닉층의 유닛",
    "overlay_past": "끝난 실행 겹쳐 보기",
    "explain_loss": "매 스텝의 교차 엔트로피 손실입니다. 옅은 선: 학습 모드의 학습 미니배치 (평활, 그 스텝의 업데이트 전). "
                    "점: 평가 모드로 계산한 평가 분할 전체.",
    "look_loss": "보통 BN 네트워크의 손실이 더 빨리 떨어집니다. 학습 손실은 내려가는데 평가 손실이 오르면 과적합입니다. "
                 "선이 끊기면 발산한 것입니다.",
    "explain_acc": "학습 미니배치(학습 모드)와 평가 분할(평가 모드, BN은 running 통계 사용)의 정확도입니다. "
                   "BN 논문의 그림 1(a)에 해당합니다.",
    "look_acc": "BN이 더 빨리 오르고 대개 더 높게 끝납니다. 학습률이 너무 크거나 초기화가 나쁘면 일반 네트워크는 "
                "우연 수준(10%)에 머물 수 있습니다.",
    "explain_bands": "TensorBoard 방식의 분포입니다. 아홉 개의 띠 경계는 고정된 프로브 배치({n}장의 학습 이미지)에서 "
                     "이 층 값의 최솟값, 7·16·31·50·69·84·93 백분위, 최댓값이며, {every} 스텝마다 학습 모드(배치 통계)로 "
                     "측정합니다.",
    "look_bands": "일반 네트워크의 띠는 이동하거나 넓어지거나 무너집니다 (ReLU: 0으로 눌림, 시그모이드: 0이나 1에 "
                  "붙음). BN 후를 고르면 BN이 같은 값을 어떻게 바꾸는지 보입니다: 평균 0, 퍼짐 1 근처에 머무는 띠.",
    "look_bands_bn": "BN 후 값은 BN 네트워크에만 있습니다: 그 띠는 평균 0, 퍼짐 1 근처에 머뭅니다 (γ와 β가 천천히 "
                     "움직입니다). 두 네트워크가 모두 그려지는 BN 전과 비교해 보세요.",
    "explain_heatmap": "같은 값을 스텝 × 구간 그림으로 보여 줍니다. 각 열은 프로브 스텝 하나, 각 행은 엔진의 고정 구간 "
                       "하나(스텝 0에서 정해 두 네트워크와 모든 스텝에 같음)이고, 색은 log(1 + 개수)입니다.",
    "look_heatmap": "밝은 능선이 움직이거나 퍼지면 학습 중에 분포가 이동하는 것입니다. 고정 구간 밖의 값은 다시 나누지 "
                    "않고 구간 밖으로 셉니다.",
    "explain_hist": "고른 두 스텝의 히스토그램을 BN과 일반 네트워크가 같은 축에 겹쳐 보여 줍니다 (구간별 프로브 값의 "
                    "비율). 위에서 BN 전, BN 후, 활성화 후를 고르세요.",
    "look_hist": "초기 스텝과 나중 스텝을 비교해 보세요. 각 네트워크의 히스토그램이 얼마나 움직였나요? BN 후의 "
                 "히스토그램은 제자리를 지키지만, BN 전과 일반 네트워크는 그렇지 않을 수 있습니다.",
    "explain_paper": "Ioffe & Szegedy (2015) 그림 1(b, c): 마지막 은닉층의 한 유닛이 비선형 함수에 넣는 입력의 "
                     "15, 50, 85 백분위(프로브 배치 기준)입니다. BN 네트워크에서 그 입력은 γx̂ + β입니다.",
    "look_paper": "BN이 없으면 아래층이 바뀌면서 띠의 중심과 폭이 떠다닙니다. BN이 있으면 훨씬 안정적입니다. "
                  "ioffe2015 프리셋(3×100 시그모이드)이 논문의 설정을 재현합니다.",
    "explain_grad": "최근 학습 스텝(그 미니배치, 학습 모드)에서 각 층 가중치 기울기의 노름을 로그 눈금으로 보여 줍니다. "
                    "실선: BN 네트워크, 점선: 일반 네트워크.",
    "look_grad": "기울기 소실: 아래층의 노름이 위층보다 몇 자릿수 작습니다 (deep-sigmoid 프리셋. bad-init에서는 일반 "
                 "네트워크의 노름이 1e-7 근처에 머물고, high-lr에서는 죽은 ReLU가 기울기를 전혀 전달하지 않아 선이 0 바닥에 "
                 "놓입니다). 기울기 폭발이라면 손실이 발산할 때까지 노름이 스텝마다 커집니다.",
    "zero_floor": "0 (이 바닥선에 표시)",
    "explain_inactive": "프로브 배치(학습 모드)에서 {meaning}의 비율입니다.",
    "look_inactive": "죽었거나 포화된 유닛은 기울기를 전달하지 못합니다. 일반 네트워크에서 비율이 오르면 학습을 멈춘 "
                     "층이 있다는 뜻입니다. BN은 입력을 비선형 함수의 기울기가 있는 구간에 둡니다.",
    "explain_gamma_beta": "각 BN 층이 학습하는 스케일 γ와 이동 β의 유닛 평균입니다 (띠: 유닛 간 ± 표준편차). "
                          "γ = 1, β = 0에서 시작합니다.",
    "look_gamma_beta": "γ와 β 덕분에 BN은 도움이 될 때 정규화를 되돌릴 수 있습니다. BN은 네트워크가 표현할 수 있는 "
                       "것을 제한하지 않습니다.",
    "explain_bn_stats": "평가 모드가 쓰는 running 통계(모멘텀 m의 지수 이동 평균)와 학습 모드가 쓰는 프로브 배치 자체의 "
                        "평균과 분산을 유닛 평균으로 나란히 보여 줍니다.",
    "look_bn_stats": "네트워크가 빠르게 바뀌는 동안 running 값은 배치 값을 늦게 따라갑니다. 모멘텀이 작을수록 더 "
                     "늦습니다.",
    "explain_bn_acc": "BN 네트워크의 평가 정확도를 두 가지로 계산합니다: 평가 모드(running 통계, 실제 배포 방식)와 "
                      "평가 미니배치마다 그 배치의 통계로 정규화한 경우({batch_mode}).",
    "look_bn_acc": "학습 초기에는 running 통계가 늦어 차이가 나고, 따라잡으면서 줄어듭니다. 나중까지 차이가 크면 배치나 "
                   "모멘텀이 너무 작을 수 있습니다.",
    "explain_ics": "Santurkar 외(2018)는 기울기로 ICS를 잽니다. 층 i에 대해 G는 스텝 시작 시점의 가중치 기울기, G′는 "
                   "i보다 아래층이 먼저 업데이트된 뒤 같은 배치로 다시 구한 기울기입니다. ‖G − G′‖ = 0, cos(G, G′) = 1이면 "
                   "변화가 없다는 뜻입니다. 학습 배치에서 {every} 스텝마다 측정합니다.",
    "explain_drift": "각 층의 비선형 함수 입력이 어떻게 움직이는지, 프로브 배치(학습 모드)에서의 평균과 표준편차로 "
                     "보여 줍니다.",
    "ics_honest": "**내부 공변량 변화의 두 가지 의미.** 분포의 이동(오른쪽)은 Ioffe와 Szegedy가 없애려던 것입니다. "
                  "Santurkar 외는 ICS를 아래 층이 업데이트될 때 한 층의 기울기가 얼마나 바뀌는지(왼쪽)로 재고, BN이 "
                  "이를 줄이지 않는다는 것을 보였습니다. 그들은 BN의 효과를 더 매끄러운 손실 지형으로 설명합니다.",
    "ics_bn_larger": "**이번 실행에서는** ‖G − G′‖의 중앙값이 **BN에서 {ratio}배 더 큽니다** ({bn} 대 {plain}, 모든 층과 "
                     "측정 스텝): BN은 분포를 안정시키지만 이 기울기 기반 ICS를 줄이지는 않습니다.",
    "ics_bn_smaller": "**이번 실행에서는** ‖G − G′‖의 중앙값이 **BN에서 {ratio}배 더 작습니다** ({bn} 대 {plain}, 모든 "
                      "층과 측정 스텝). ‖G − G′‖는 기울기의 크기에 따라 커지므로 아래의 코사인과 함께 보세요.",
    "ics_not_yet": "두 네트워크 모두 ICS 측정값이 생기면 비교가 나타납니다.",
    "ics_rel_larger": "기울기 자체의 크기에 대한 비율 ‖G − G′‖ / ‖G‖로 보면 **BN에서 {ratio}배 더 큽니다** ({bn} 대 "
                      "{plain}).",
    "ics_rel_smaller": "기울기 자체의 크기에 대한 비율 ‖G − G′‖ / ‖G‖로 보면 **BN에서 {ratio}배 더 작습니다** ({bn} 대 "
                       "{plain}).",
    "ics_phases": "단계별로 나누면: 학습 배치 정확도의 최근 {window} 스텝 평균이 어떤 스텝부터 끝까지 {threshold} 이상을 "
                  "유지하면 그 스텝부터 네트워크가 학습 데이터를 *암기*한 것이고, 그 전은 *학습 중*입니다. BN: {bn}, "
                  "BN 없음: {plain}.",
    "ics_phase_from": "{step} 스텝부터 암기",
    "ics_phase_never": "(아직) 암기하지 않음",
    "ics_phase_line": "**{phase}** (측정 {n_bn}회와 {n_plain}회): BN의 ‖G − G′‖는 일반 네트워크의 {ratio}배, 상대값은 "
                      "{rel_ratio}배입니다.",
    "ics_phase_empty": "**{phase}**: 이 단계에서는 (아직) 두 네트워크 모두의 측정값이 있지는 않습니다.",
    "phase_learning": "학습 중",
    "phase_memorised": "암기",
    "drift_numbers": "**이번 실행의 분포 이동.** {layer}의 비선형 함수 입력을 {step} 스텝에서 각 네트워크 자신의 0 스텝"
                     "(업데이트 전)과 비교합니다. 중앙값 이동: BN {bn_shift}, BN 없음 {plain_shift}. 15–85 백분위 폭: "
                     "0 스텝 폭의 BN {bn_spread}배, BN 없음 {plain_spread}배. 히스토그램이 0 스텝 모양에서 떨어진 "
                     "거리(Wasserstein-1, 그 양의 단위): BN {bn_w1}, BN 없음 {plain_w1}.",
    "drift_outside": "{net} 값의 {share}가 이제 고정된 구간 밖에 있습니다. W1은 이 값들을 가장 가까운 경계에 놓고 재므로 "
                     "이 거리는 하한입니다.",
    "drift_not_yet": "두 네트워크 모두 두 번째 프로브가 생기면 이동 수치가 나타납니다.",
    "ics_arm_line": "**{net}** 대 {ref}: ‖G − G′‖ 중앙값 {arm} 대 {other} ({ratio}배), 기울기 크기에 대한 상대값 "
                    "{rel_ratio}배.",
    "drift_arm_line": "**{net}**: 중앙값 이동 {shift}; 15–85 백분위 폭은 0 스텝 폭의 {spread}배; 0 스텝 대비 "
                      "히스토그램의 W1은 {w1}, 유닛별 자기 값의 W1은 {unit_w1}.",
    "drift_arm_intro": "**이번 실행의 분포 이동.** {layer}의 비선형 함수 입력을 {step} 스텝에서 각 네트워크 자신의 0 스텝"
                       "(업데이트 전)과 비교합니다:",
    "explain_gallery": "평가 분할({split})의 처음 {n}장과 최근 평가(평가 모드)에서 각 네트워크가 예측한 레이블입니다. "
                       "빨간 ✗는 틀린 예측입니다.",
    "look_gallery": "초기에는 일반 네트워크가 많이 틀리는 동안 BN은 이미 대부분을 맞힙니다. 학습 후반의 실수는 실제로 "
                    "애매한 이미지인 경우가 많습니다.",
    "gallery_none": "첫 평가가 끝나면 예측이 나타납니다.",
    "downloads": "이 실행 내려받기",
    "download_json": "실행 기록 (JSON)",
    "download_csv": "지표 (CSV)",
    "download_hist": "히스토그램 (JSON)",
    "download_help": "전체 설정, 데이터 분할, 라이브러리 버전을 포함합니다.",
    "history": "이 세션에서 끝난 실행",
    "history_empty": "끝난 실행이 여기에 나타나며, 그 곡선을 현재 실행에 겹쳐 볼 수 있습니다.",
    "history_row": "실행 #{run}: {preset} · {dataset} · 학습률 {lr} · 배치 {batch} · {status}",
    "col_run": "실행",
    "col_net": "네트워크",
    "col_settings": "설정",
    "col_status": "상태",
    "col_steps": "스텝",
    "col_acc": "평가 정확도 (평가 모드)",
    "concepts_intro": "차트 뒤에 있는 네 가지 개념입니다. 실험실의 각 차트는 이 중 하나와 이어집니다.",
    "concept_grad_title": "기울기 소실과 폭발",
    "concept_grad": "역전파는 층마다 비선형 함수의 도함수와 가중치 행렬을 차례로 곱합니다. 시그모이드의 기울기는 최대 "
                    "1/4이므로 시그모이드 층을 여러 번 지나면 기울기가 거의 기하급수적으로 줄어 아래층이 거의 배우지 "
                    "못합니다(소실). 가중치가 너무 크면 곱이 오히려 커져(폭발) 학습이 발산합니다. 좋은 초기화는 각 층의 "
                    "증폭을 1 근처로 유지하고, BN은 가중치가 어떻든 매 스텝 그렇게 합니다.",
    "concept_ics_title": "내부 공변량 변화",
    "concept_ics": "Ioffe & Szegedy(2015)는 아래층의 업데이트 때문에 어떤 층의 입력 분포가 바뀌는 현상을 *내부 공변량 "
                   "변화*라고 불렀습니다. 각 층이 움직이는 과녁을 쫓는 셈입니다. BN은 미니배치에서 각 유닛의 평균과 "
                   "분산을 고정합니다. 이후 Santurkar 외(2018)는 분포를 일부러 흔드는 잡음을 넣어도 BN 네트워크가 잘 "
                   "학습하고, 기울기 기반 ICS 척도는 BN으로 줄지 않음을 보였습니다. BN이 돕는 주된 이유는 손실 지형이 "
                   "매끄러워지기 때문입니다.",
    "concept_bn_title": "BatchNorm이 계산하는 것",
    "concept_bn": "학습 중 각 유닛에 대해, 미니배치의 n개 값 x₁…x_n에서:",
    "concept_bn_after": "ε(1e-5)는 0으로 나누는 것을 막습니다. γ와 β는 유닛마다 학습되므로, 그것이 최선이면 층이 항등 "
                        "함수도 표현할 수 있습니다. 비선형 함수 앞에 두면 선형 층의 편향은 필요 없고 β가 그 역할을 합니다.",
    "concept_mode_title": "학습 모드와 평가 모드",
    "concept_mode": "학습 모드에서 BN은 현재 미니배치의 통계로 정규화하고 이동 평균을 갱신합니다 (PyTorch: 이동 평균 ← "
                    "(1 − m)·이동 평균 + m·배치 통계, 분산은 불편 추정). 평가 모드에서는 그 이동 평균을 쓰므로 예측이 같은 "
                    "배치의 다른 이미지에 좌우되지 않습니다. 배치 크기가 1이면 분산이 없어 BN으로 학습할 수 없습니다. 이 "
                    "실험실에서 평가 분할의 수치는 평가 모드이고, 프로브 분포는 고정된 프로브 배치에서 학습 모드로, "
                    "running 통계를 건드리지 않고 계산합니다.",
    # -- 실행 기록 코드의 문구 (bn_demo/record.py) ------------------------------------------------------
    "chance": "우연 수준 {share}",
    "inactive_relu": "죽은 ReLU: 모든 프로브 예제에 0을 출력하는 유닛",
    "inactive_sigmoid": "포화된 시그모이드 출력 (0.02 미만 또는 0.98 초과)",
    "inactive_tanh": "포화된 tanh 출력 (|a| > 0.98)",
    "mode_eval_batch_stats": "학습 모드: BN이 검증 미니배치마다 그 배치의 통계를 사용 (학습 배치 크기)",
    "mode_probe": "학습 모드, 고정된 프로브 배치의 배치 통계 (BN 이동 통계는 건드리지 않음; 스텝 업데이트 후의 가중치)",
    "reason_exploded": "손실이 {loss}(으)로 폭발 (첫 값의 {factor}배인 {limit} 초과)",
    "reason_collapsed": "{layers}의 모든 ReLU가 프로브 배치 전체에 0을 출력: 아래 층으로 기울기가 전달되지 않음",
    "split_full": "{title} {file} ({n})",
    "split_seeded_train": "{title} 학습 부분 ({n}, 시드 고정 분할)",
    "split_seeded_test": "{title} 검증 부분 ({n}, 시드 고정 분할)",
    "split_partial_train": "{title} test[:{stop}] (학습 분할 없음)",
    "split_partial_test": "{title} test[{start}:] (검증용 {n}장)",
    "file_train": "학습",
    "file_test": "테스트",
    "partial_note": "디스크에 {title} 테스트 분할만 있습니다({why}). 앞의 {n_train}장으로 학습하고 나머지 {n_test}장으로 "
                    "평가합니다.",
    "partial_download_failed": "다운로드 실패",
    "partial_train_missing": "학습 파일 없음",
    "points": "{value}%p",
    "data_problem_download_failed": "{name}을(를) 다운로드하지 못했습니다 (인터넷 연결이 없나요?).",
    "data_problem_not_on_disk": "{name}이(가) 서버에 없고 다운로드가 꺼져 있습니다.",
    "data_problem_file_missing": "{name}: {file} 파일이 없습니다.",
    "data_problem_md5_mismatch": "{name}: {file}의 md5 검사가 실패했습니다 (손상된 다운로드).",
    "data_problem_unreadable": "{name}: {file}이(가) 잘렸거나 IDX 파일이 아닙니다.",
    "data_problem_too_few_images": "{name}: {file}에 이미지가 {count}장 있습니다 ({expected}장이어야 함).",
    "data_problem_wrong_shape": "{name}: {file}의 이미지 모양이 {shape}입니다 (28×28이어야 함).",
    "data_problem_count_mismatch": "{name}: {file}에는 이미지 {count}장, {label_file}에는 레이블 {labels}개가 있습니다.",
    "data_problem_labels_out_of_range": "{name}: {file}에 0–9 밖의 레이블이 있습니다.",
    "config_problem_exception": "실행 중 오류: {type}.",
    # -- command line (bn_demo/cli.py) -----------------------------------------------------------------
    "cli_description": "BatchNorm Lab, 화면 없이 실행.",
    "cli_help_train": "학습(기본: BN/일반 쌍둥이를 나란히)하고 결과를 보고",
    "cli_help_presets": "프리셋 목록",
    "cli_help_show": "저장된 실행 기록(train --out 파일)의 요약 표를 출력",
    "cli_help_reproduce": "논문 그림 재현 (fig1, santurkar)",
    "cli_help_record": "train --out이 쓴 실행 기록 (JSON)",
    "cli_help_out": "실행 기록을 JSON으로 저장 (bn_demo/record.py)",
    "cli_help_csv": "스텝별 지표를 CSV로 저장 (쌍둥이, 계열, 스텝마다 한 행)",
    "cli_help_quiet": "진행 막대 없음",
    "cli_help_data_dir": "데이터셋을 내려받고 읽는 곳 (없으면 $BN_DEMO_DATA_DIR, 그다음 ./data)",
    "cli_help_model": "both = BN과 일반 쌍둥이를 나란히; arms = --arms로 고른 네트워크",
    "cli_help_hidden": "은닉층 너비, 예: 32,32",
    "cli_help_steps": "정확히 이 스텝 수만큼 학습 (--epochs보다 우선)",
    "cli_help_init_std": "가우시안 초기화의 σ",
    "cli_help_probe_every": "프로브 사이의 스텝 수 (0 = 자동)",
    "cli_help_pace": "초당 최대 스텝 수 (0 = 최고 속도)",
    "cli_help_no_probes": "관찰 없이 학습",
    "cli_error": "오류: {message}",
    "cli_unwritable": "오류: {flag} {path}: {why}",
    "cli_is_directory": "폴더입니다",
    "cli_save_failed": "오류: {path}에 쓰지 못했습니다 ({why}). 결과는 {kept}에 있습니다",
    "cli_data_folder": "데이터 폴더: {folder}",
    "cli_offline_hint": "도움말: --dataset {dataset}은(는) 오프라인에서도 됩니다",
    "cli_progress": "스텝 {step}/{total}  초당 샘플 {rate}개  남은 시간 {eta}  {status}",
    "cli_dataset_line": "데이터셋: 학습 = {train}, 평가 = {test}",
    "cli_note": "참고: {note}",
    "cli_run_line": "장치: {device}   스텝: {step} / {total}   학습 시간: {seconds}초   초당 샘플: {rate}   실행: {status}",
    "cli_col_twin": "쌍둥이",
    "cli_col_outcome": "결과",
    "cli_col_at_step": "해당 스텝",
    "cli_col_train_loss": "학습 손실",
    "cli_col_test_loss": "평가 손실",
    "cli_col_test_acc": "평가 정확도",
    "cli_col_eval_step": "평가 스텝",
    "cli_outcome_collapsed": "붕괴함",
    "cli_repeats_line": "표는 시드 {first}의 결과입니다. 나란히 학습한 시드 {first}–{last}의 평가 분할 정확도(평가 모드), "
                        "평균 ± 표준편차: {spreads}",
    "cli_footnote": "해당 스텝: 쌍둥이가 발산하거나 붕괴한 스텝. 학습 손실: 마지막 스텝들의 배치 손실 평균(학습 모드). "
                    "평가: 평가 분할 전체, 평가 모드(BN running 통계), 평가 스텝의 평가에서 나온 값.",
    "cli_bad_record": "오류: {path}은(는) 이 버전이 읽을 수 있는 실행 기록이 아닙니다: {why}",
    "cli_record_not_json": "JSON이 아님",
    "cli_record_not_a_record": "BatchNorm Lab 실행 기록이 아님",
    "cli_record_wrong_version": "기록 버전 {detail}, 이 버전은 버전 {version}을 읽습니다",
    "cli_record_bad_field": "{detail} 항목이 없거나 형식이 잘못됨",
    "cli_record_too_large": "{limit} MB보다 큼",
    "cli_unreadable": "오류: {path}을(를) 읽을 수 없습니다: {why}",
    # sweep (bn_demo/cli.py `sweep`, bn_demo/sweep.py의 수치)
    "cli_help_sweep": "격자의 학습률마다 쌍둥이를 학습해 비교: 목표 평가 정확도까지의 스텝, 발산, 붕괴",
    "cli_help_lrs": "학습률: lo:hi:count (로그 간격으로 고르게 count개, 양 끝 포함) 또는 쉼표 목록 (기본값 {default})",
    "cli_help_seeds": "시드, 예: 1, 1-5 또는 1,3,5 (기본값: --seed)",
    "cli_help_arms": "나란히 학습할 네트워크: bn, plain, layernorm, noisy-bn 중 1–4개, 예: plain,bn,layernorm,noisy-bn "
                     "(기본값: --model)",
    "cli_help_target": "실행이 도달해야 할 평가 정확도 (평가 모드, 0과 1 사이) (기본값 {default})",
    "cli_help_sweep_out": "스윕을 JSON으로 저장 (형식 bn-lab-sweep, bn_demo/sweep.py)",
    "cli_help_sweep_csv": "학습률, 시드, 쌍둥이마다 한 행씩 CSV로 저장",
    "cli_sweep_grid_format": "{text}: lo:hi:count 또는 쉼표로 구분한 학습률 목록이어야 합니다",
    "cli_sweep_grid_positive": "{value}은(는) 양수가 아닙니다",
    "cli_sweep_grid_count": "학습률은 {low}개에서 {high}개까지",
    "cli_sweep_grid_order": "마지막 학습률({high})이 첫 학습률({low})보다 커야 합니다",
    "cli_sweep_seeds_format": "{text}: 1, 1-5, 1,3,5 같은 시드여야 합니다",
    "cli_sweep_seeds_count": "시드는 최대 {high}개",
    "cli_sweep_arms_unknown": "알 수 없는 네트워크 {arm} (가능: {options})",
    "cli_sweep_arms_format": "{text}: bn,plain 같은 네트워크를 한 번씩 적어야 합니다",
    "cli_sweep_target": "{value}: 0보다 크고 1 이하인 평가 정확도여야 합니다",
    "cli_sweep_conflict": "스윕에서는 {flag}와(과) {other}를 함께 쓸 수 없습니다",
    "cli_sweep_progress": "실행 {index}/{total}: 학습률 {lr}, 시드 {seed}  스텝 {step}/{steps}",
    "cli_sweep_run": "실행 {index}/{total}: 학습률 {lr}, 시드 {seed}: {outcomes} ({seconds}초)",
    "cli_sweep_arm_outcome": "{twin} {outcome}",
    "cli_sweep_arm_outcome_at": "{twin} 스텝 {step}에서 {outcome}",
    "cli_sweep_line": "장치: {device}   실행: {runs}개 (학습률 {lrs}개, 시드 {seeds}개)   실행당 스텝: {steps}   "
                      "시간: {seconds}초",
    "cli_sweep_incomplete": "중단됨: 표에는 끝난 실행 {done}개만 있습니다 (전체 {total}개)",
    "cli_col_lr": "학습률",
    "cli_sweep_col_steps": "{target} 도달 스텝",
    "cli_sweep_col_reached": "도달",
    "cli_sweep_col_final_acc": "최종 평가 정확도",
    "cli_sweep_outcome_count": "{outcome} {count}/{runs}",
    "cli_sweep_tolerance": "쌍둥이마다 견디는 가장 높은 학습률 (격자 {low}부터 {high}까지):",
    "cli_sweep_col_highest_target": "{target} 도달",
    "cli_sweep_col_highest_trained": "발산·붕괴 없음",
    "cli_sweep_col_fastest": "{target}에 가장 빨리",
    "cli_sweep_fastest": "학습률 {lr} ({steps} 스텝)",
    "cli_sweep_ratio": "{twin} 대 {reference}: {target}에 도달하는 가장 높은 학습률은 {reaching}, 발산·붕괴 없는 가장 "
                       "높은 학습률은 {trained}.",
    "cli_sweep_same_rate": "같은 학습률에서 (두 쌍둥이의 모든 시드가 {target}에 도달한 곳):",
    "cli_sweep_col_ref_steps": "{reference} 스텝",
    "cli_sweep_col_saved": "줄어든 스텝",
    "cli_sweep_saved": "{steps} ({speedup})",
    "cli_sweep_col_ref_acc": "{reference} 최종 정확도",
    "cli_sweep_col_gain": "정확도 차이",
    "cli_sweep_same_rate_none": "두 쌍둥이가 모두 {target}에 도달한 학습률이 없습니다.",
    "cli_sweep_footnote": "{target} 도달 스텝: 평가 분할 전체를 평가 모드(BN running 통계)로 잰 정확도가 처음 {target} "
                          "이상이 된 평가의 스텝 ({eval_every} 스텝마다와 각 에포크 끝에 평가); —는 도달하지 못함. "
                          "해당 스텝: 쌍둥이가 발산하거나 붕괴한 스텝 (시드가 여럿이면 가장 이른 것); 발산한 쌍둥이의 "
                          "최종 정확도는 발산 전 마지막 평가의 값. 가장 높은 학습률: 모든 시드가 목표에 도달하거나 "
                          "발산·붕괴 없이 끝난 학습률; ≥는 격자의 가장 높은 학습률 (한계는 그보다 높을 수 있음). "
                          "시드가 여럿이면 평균 ± 표준편차.",
    # 시드 (bn_demo/cli.py `train --seeds`, bn_demo/seeds.py의 수치)
    "cli_seeds_help": "시드마다 한 번씩 차례로 학습 (예: 1-5 또는 1,3,5), 시드별 결과와 시드 평균 ± 표준편차를 보고 "
                      "(--out은 시드 파일을 저장: 형식 bn-lab-seeds, bn_demo/seeds.py; --csv는 시드와 쌍둥이마다 한 행)",
    "cli_seeds_conflict": "{flag}와(과) {other}를 함께 쓸 수 없습니다",
    "cli_seeds_progress": "시드 {seed} ({index}/{total})  스텝 {step}/{steps}",
    "cli_seeds_run": "시드 {seed} ({index}/{total}): {outcomes} ({seconds}초)",
    "cli_seeds_line": "장치: {device}   시드: {seeds} (끝난 실행 {runs}개)   실행당 스텝: {steps}   시간: {seconds}초",
    "cli_seeds_incomplete": "중단됨: 표에는 끝난 시드 {done}개만 있습니다 (전체 {total}개)",
    "cli_seeds_col_seed": "시드",
    "cli_seeds_over": "시드 {n}개에 걸쳐 (평균 ± 표준편차):",
    "cli_seeds_col_diverged_at": "발산한 스텝",
    "cli_seeds_col_collapsed_at": "붕괴한 스텝",
    "cli_seeds_footnote": "시드 평균 ± 표준편차: 표준편차는 표본 표준편차(분모 n − 1)이며, 그 수치가 있는 시드들에 걸쳐 "
                          "계산 ((n=k): 그중 k개만). 발산한/붕괴한 스텝: 그 일이 일어난 시드들에 걸쳐. 발산한 쌍둥이의 "
                          "평가 수치는 발산 전 마지막 평가의 값.",
    # 스윕 그림 (bn_demo/ui/sweep_view.py; 아직 페이지에 없음)
    "sweep_intro": "학습률 스윕(python -m bn_demo sweep --out): 격자의 학습률마다 두 쌍둥이를 학습했습니다. 점선: 쌍둥이마다 "
                   "목표에 도달한 가장 높은 학습률 (BN이 얼마나 더 높은 학습률을 견디는지). 위 패널의 한 학습률: 같은 "
                   "학습률에서 BN이 얼마나 더 빠른지.",
    "sweep_upload": "스윕 파일 (JSON)",
    "sweep_example": "함께 들어 있는 예: {dataset}, {optimizer}, 학습률 {lrs}, 시드 {seeds} (실행 {runs}번, 프로젝트의 "
                     "2코어 빌드 머신에서 측정). 직접 만든 스윕 파일을 열면 그것을 보여 줍니다.",
    "sweep_bad_file": "이 버전이 읽을 수 있는 스윕 파일이 아닙니다.",
    "sweep_panel_steps": "평가 정확도 {target}까지의 스텝 (평가 모드, 시드 평균)",
    "sweep_panel_acc": "실행마다 최종 평가 정확도(평가 모드)와 결과",
    "sweep_axis_lr": "학습률 (로그 눈금)",
    "sweep_axis_steps": "스텝",
    "sweep_axis_acc": "평가 정확도",
    "sweep_legend_outcome": "{twin}: {outcome}",
    "sweep_highest": "{twin}: {lr}까지",
    "sweep_hover_steps": "학습률 %{x:g}: %{y:,.0f} 스텝",
    "sweep_hover_acc": "학습률 %{x:g}: %{y:.1%}",
}

TEXTS = {"en": EN, "ko": KO}

DATASET_NAMES = {
    "en": {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "digits": "8×8 digits (offline)"},
    "ko": {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "digits": "8×8 숫자 (오프라인)"},
}

# Field names as a URL warning shows them.
FIELD_NAMES = {
    "en": {"lr": "learning rate", "batch_size": "batch size", "bn_momentum": "BN momentum",
           "bn_placement": "BN placement", "init_std": "init σ", "model": "networks", "pause_at": "pause at step",
           "arms": "picked networks", "repeats": "seeds side by side"},
    "ko": {"lr": "학습률", "batch_size": "배치 크기", "bn_momentum": "BN 모멘텀", "bn_placement": "BN 위치",
           "init_std": "초기화 σ", "model": "네트워크", "dataset": "데이터셋", "epochs": "에포크", "steps": "스텝 수",
           "activation": "활성화 함수", "optimizer": "옵티마이저", "seed": "시드", "device": "장치",
           "depth": "깊이", "width": "너비", "init": "초기화", "pace": "속도", "preset": "프리셋", "lang": "언어",
           "projector": "프로젝터",
           "hidden": "은닉층 너비", "weight_decay": "가중치 감쇠", "pause_at": "일시정지할 스텝", "arms": "고른 네트워크",
           "repeats": "함께 돌릴 시드 수"},
}


def t(key: str, lang: str = "en", **values) -> str:
    text = TEXTS.get(lang, EN).get(key) or EN[key]
    return text.format(**values) if values else text


def preset_summary(name: str, lang: str) -> str:
    """What a preset (bn_demo/config.py PRESETS) shows and what to look for."""
    return t(f"preset_summary_{name}", lang)


def allowed_text(code: str, facts: dict | None = None, lang: str = "en") -> str:
    """What a setting allows, for a ConfigError's rule `code` (bn_demo/config.py RULES) and its facts:
    numbers grouped with commas, options listed; a code with no words yet is shown as itself."""
    facts = facts or {}
    values = {k: _fact(v) for k, v in facts.items()}
    if code == "number_range":
        values["interval"] = f"{'(' if facts.get('low_open') else '['}{values['low']}, {values['high']}]"
    if f"allowed_{code}" not in EN:
        return str(code)
    return t(f"allowed_{code}", lang, **values)


def link_allowed(problem, lang: str) -> str:
    """What a dropped link parameter (ui/params.py Problem) allows, and the setting it conflicts with."""
    allowed = allowed_text(problem.code, problem.facts, lang)
    if not problem.conflict:
        return allowed
    return t("allowed_conflict", lang, allowed=allowed, field=field_name(problem.conflict, lang))


def config_problem(error, lang: str = "en", value: str | None = None) -> str:
    """One line for a ConfigError, its as_dict() (a record's invalid_config error) or a link's
    params.Problem: "batch size = 1 — allowed: at least 2 with BatchNorm …". `value` replaces the
    value's plain text (the page passes it quoted literally)."""
    def get(name):
        return error.get(name) if isinstance(error, dict) else getattr(error, name, None)

    if value is None:
        value = " ".join(str(get("value")).split())
        value = value if len(value) <= 80 else value[:79] + "…"
    return t("config_problem", lang, field=field_name(get("field"), lang), value=value,
             allowed=allowed_text(get("code"), get("facts"), lang))


def _fact(value) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, float) and not value.is_integer():
        return f"{value:g}"
    return f"{int(value):,}"


def dataset_name(name: str, lang: str) -> str:
    return DATASET_NAMES.get(lang, DATASET_NAMES["en"]).get(name, name)


def field_name(name: str, lang: str) -> str:
    return FIELD_NAMES.get(lang, {}).get(name) or FIELD_NAMES["en"].get(name, name)


def net_name(twin: str, lang: str) -> str:
    return t(f"net_{twin}", lang)


def twin_label(twin: str, lang: str) -> str:
    return t(f"twin_{twin}", lang)


def arms_facts(record: dict, lang: str) -> str:
    """Each network's trainable parameters (γ and β counted apart) and where weight decay applies, from a
    run record (twins' parameters, parameter_groups, weight_decay_on; config.weight_decay), plus the
    redundant-bias note when a BN network has BN before the nonlinearity. "" for a record without twins."""
    twins = record.get("twins") or {}
    if not twins:
        return ""
    parts, decayed = [], []
    for name, twin in twins.items():
        groups = twin.get("parameter_groups") or {}
        norm = groups.get("norm_weight", 0) + groups.get("norm_bias", 0)
        total = number(twin.get("parameters") or 0)
        parts.append(t("arms_part_norm", lang, net=twin_label(name, lang), total=total, norm=number(norm)) if norm
                     else t("arms_part", lang, net=twin_label(name, lang), total=total))
        decayed += [g for g in twin.get("weight_decay_on") or [] if g not in decayed]
    config = record.get("config") or {}
    if not any("weight_decay_on" in twin for twin in twins.values()) and config.get("weight_decay", 0) > 0:
        decayed = ["linear_weight", "linear_bias", "norm_weight", "norm_bias"]  # older records: it decays them all
    decay = (t("arms_decay_on", lang, value=f"{config.get('weight_decay', 0):g}",
               groups=", ".join(t(f"group_{g}", lang) for g in decayed)) if decayed else t("arms_decay_off", lang))
    text = t("arms_caption", lang, parts="; ".join(parts), decay=decay)
    if config.get("bn_placement", "before") == "before" and any(n in ("bn", "noisy-bn") for n in twins):
        text += " " + t("arms_bias_note", lang)
    return text


def divergence_reason(twin: dict, lang: str) -> str:
    """Why a twin diverged, from its record's reason code and numbers."""
    values = twin.get("reason_values") or {}
    if twin.get("reason") == "exploded":
        return t("reason_exploded", lang, loss=f"{values['loss']:.3g}", limit=f"{values['limit']:.3g}",
                 factor=f"{values['factor']:g}")
    return t(f"reason_{twin.get('reason') or 'nan'}", lang)


def data_problem(error: dict, lang: str) -> str:
    """One sentence for a record's data_unavailable error (bn_demo/data.py DataUnavailable)."""
    facts = {k: (number(v) if isinstance(v, int) else v) for k, v in error.items() if k not in ("code", "problem")}
    return t(f"data_problem_{error['problem']}", lang, **{**facts, "name": dataset_name(error["dataset"], lang)})


def run_error(error: dict, lang: str) -> str:
    """One sentence for a failed run's record `error` (any code)."""
    if error["code"] == "data_unavailable":
        return data_problem(error, lang)
    if error["code"] == "invalid_config":
        return config_problem({**error, "code": error["rule"]}, lang)
    if error["code"] == "worker_lost":
        return t("worker_lost", lang, type=error.get("type", "?"))
    return t("config_problem_exception", lang, type=error.get("type", "?"))


def collapse_reason(twin: dict, n_layers: int, lang: str) -> str:
    layers = ", ".join(layer_label(i, n_layers, lang) for i in twin["collapsed_layers"])
    return t("reason_collapsed", lang, layers=layers)


def layer_label(index: int, n_layers: int, lang: str) -> str:
    """Layer `index` of a record: hidden 1 … hidden n, then the output layer (index n)."""
    return t("output_layer", lang) if index >= n_layers else t("hidden_layer", lang, n=index + 1)


def layer_labels(n_layers: int, lang: str, output: bool = False) -> list[str]:
    return [layer_label(i, n_layers, lang) for i in range(n_layers + (1 if output else 0))]


def split_label(dataset: dict, split: str, lang: str) -> str:
    """What a record's training or held-out split really is, e.g. "MNIST test[:8,000] (…unavailable)"."""
    part = dataset["splits"][split]
    title = dataset_name(dataset["name"], lang)
    n = number(part["stop"] - part["start"])
    if dataset.get("partial"):
        return t(f"split_partial_{split}", lang, title=title, start=number(part["start"]), stop=number(part["stop"]), n=n)
    if dataset.get("seeded"):
        return t(f"split_seeded_{split}", lang, title=title, n=n)
    return t("split_full", lang, title=title, file=t(f"file_{part['file']}", lang), n=n)


def partial_note(dataset: dict, lang: str) -> str:
    """The notice for a run that trains on part of the test file; empty when the splits are the real ones."""
    if not dataset.get("partial"):
        return ""
    return t("partial_note", lang, title=dataset_name(dataset["name"], lang), why=t(f"partial_{dataset['partial']}", lang),
             n_train=number(dataset["n_train"]), n_test=number(dataset["n_test"]))


def number(value) -> str:
    """1234 -> '1,234' (both languages group thousands with commas)."""
    return f"{int(value):,}"


def duration(seconds) -> str:
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"

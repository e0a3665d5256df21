/* Help texts and small shared helpers of the command line (DESIGN §3). */
#include "supervisor/cmd/cli.h"
#include <stdio.h>
#include <string.h>
#include "io/common.h"

typedef struct { const char *name, *usage, *help; } help_entry;

static const help_entry helps[] = {
    { "run", "photon-sim EXPERIMENT.ini [--set section.key=value ...] [--resume | --replace] [--dry-run]",
      "Runs a federated (or centralized) pre-training experiment described by an INI file.\n"
      "Prepares the data first when it is missing or stale. Results go to the run\n"
      "directory ([run] out_dir, default runs/<name>): config.ini (resolved),\n"
      "metrics.jsonl, summary.json, checkpoints/.\n"
      "  --set section.key=value  override one key (repeatable; paths relative to the CWD)\n"
      "  --resume                 continue from the newest valid checkpoint of the run\n"
      "  --replace                delete the results already in the run directory\n"
      "                           (metrics, summary, checkpoints, tb/; prepared data stays)\n"
      "                           and start over; without --resume or --replace a run\n"
      "                           directory that holds results is refused (exit 2)\n"
      "  --dry-run                print the resolved configuration and exit\n"
      "See `photon-sim config-reference` for every key." },
    { "prepare", "photon-sim prepare EXPERIMENT.ini [--set section.key=value ...] [--if-stale]",
      "Tokenizes the [data] sources (training a BPE tokenizer when tokenizer = train),\n"
      "partitions documents into per-client shards (llm.c format) plus a validation\n"
      "shard, and writes a manifest so later runs know whether the data is current.\n"
      "Each source file's tokens are kept in <prepared>/cache/: an interrupted prepare\n"
      "run again only tokenizes the files it had not finished.\n"
      "  --if-stale  keep the prepared data when its manifest matches the inputs\n"
      "See docs/DATA.md." },
    { "eval", "photon-sim eval CKPT.h5 --data SHARD.bin [--batches N | --tokens N] [--batch B] [--threads N] [--backend auto|cpu|cuda]",
      "Evaluates a checkpoint on a token shard: windows of seq_len+1 tokens, window w\n"
      "starting at token w*seq_len; averages the cross-entropy over the first\n"
      "batches x batch windows and prints `loss <x> perplexity <y>`.\n"
      "  --batch B      windows per forward pass (default 4)\n"
      "  --batches N    number of batches (default 20, or as many as the shard holds)\n"
      "  --tokens N     instead: about N tokens in windows spread over the whole shard,\n"
      "                 as a run's evaluation picks them ([eval] tokens; every window\n"
      "                 when N covers the shard); per validation source when SHARD is a\n"
      "                 prepared val.bin with its manifest.json, one line each:\n"
      "                 `source <name> loss <x> perplexity <y> windows <n>`\n"
      "  --threads N    CPU threads (default all cores)\n"
      "  --backend      auto (CUDA when available), cpu or cuda" },
    { "sample", "photon-sim sample CKPT.h5 --prompt TEXT [--tokens N] [--temperature T] [--top-k K] [--seed S] [--tokenizer DIR]",
      "Generates text from a checkpoint, continuing the prompt, and prints the decoded\n"
      "text (prompt included).\n"
      "  --tokens N       tokens to generate (default 64)\n"
      "  --temperature T  softmax temperature, 0 = greedy (default 1.0)\n"
      "  --top-k K        sample among the K most likely tokens, 0 = all (default 0)\n"
      "  --seed S         random seed (default 1337); same seed, same text on the CPU\n"
      "  --tokenizer DIR  tokenizer directory (default: the tokenizer recorded in\n"
      "                   the checkpoint's configuration)\n"
      "  --threads N, --backend auto|cpu|cuda  as for eval" },
    { "inspect", "photon-sim inspect CKPT.h5 [--verify] [--config] [--hash]",
      "Prints what a checkpoint holds: attributes, model shape, parameter count, and\n"
      "every group and dataset with its type and shape.\n"
      "  --verify  read every dataset, checking its Fletcher-32 checksums\n"
      "  --config  print the resolved experiment configuration recorded in it\n"
      "  --hash    add a 64-bit hash of each numeric dataset's values, to compare two\n"
      "            checkpoints bit for bit (the files differ in HDF5 timestamps)" },
    { "export-hf", "photon-sim export-hf CKPT.h5 DIR [--tokenizer DIR]",
      "Writes DIR/model.safetensors and DIR/config.json, loadable by Hugging Face\n"
      "transformers as GPT2LMHeadModel (lm_head tied to wte, which is trimmed to the\n"
      "true vocabulary) with generation_config.json, plus the tokenizer (tokenizer.json,\n"
      "tokenizer_config.json, special_tokens_map.json, vocab.json + merges.txt) when\n"
      "the checkpoint's tokenizer (or --tokenizer DIR) is found." },
    { "import-hf", "photon-sim import-hf HF_DIR OUT.h5",
      "Reads a Hugging Face GPT-2 directory (config.json and model.safetensors or a\n"
      "sharded model.safetensors.index.json; F32, F16 or BF16 weights, converted\n"
      "exactly to float32) into a photon-sim checkpoint at round 0, for eval, sample,\n"
      "export-hf, or [run] init_from. OUT.h5 must not exist." },
    { "encode", "photon-sim encode --tokenizer DIR [--eot | --jsonl] < TEXT",
      "Reads all of standard input as one text and prints its token ids, space\n"
      "separated, on one line. --eot treats the literal <|endoftext|> as the EOT token.\n"
      "DIR holds tokenizer.json, vocab.json + merges.txt, or encoder.json + vocab.bpe.\n"
      "  --jsonl  standard input is JSON Lines: one line of ids per document (its \"text\")\n"
      "  --bench SOURCE [--threads N] [--max-docs N]  time tokenizing every document of\n"
      "      a text source (read into memory first); prints one JSON line with MB/s" },
    { "actor", "photon-sim actor --connect HOST:PORT --key-file FILE [--retries N] [--threads N] [--backend cpu|cuda] [--data-dir DIR]\n"
      "       photon-sim actor --connect HOST:PORT --tls-ca CA --tls-cert CERT --tls-key KEY [...]",
      "Runs a remote actor host that connects to a supervisor running with\n"
      "[aggregator] link = tcp (address in <run dir>/listen.addr) over TLS 1.3 keyed by\n"
      "the run's key ([aggregator] key_file or <run dir>/run.key): each end proves it\n"
      "holds the key. Trains tasks until the run ends; after a lost connection it\n"
      "reconnects with backoff (0.5 s doubling to 30 s) and gives up after --retries\n"
      "failed attempts in a row (default 10; 0 = never reconnect). --threads/--backend\n"
      "override the run's for this host; --data-dir is where this host has the run's\n"
      "prepared shards (default: the supervisor's path). With --tls-ca/--tls-cert/\n"
      "--tls-key instead of the key file both ends show certificates (the supervisor\n"
      "runs with [aggregator] tls_ca, tls_cert, tls_key): its certificate must chain\n"
      "to CA and name HOST; ours must chain to its tls_ca." },
    { "bench", "photon-sim bench --model PRESET --batch B --seq T [--threads N] [--backend cpu|cuda] [--json]\n"
      "       photon-sim bench --runtime|--link [--sizes tiny,small,medium,125m] [--clients K] [--threads N] [--reps N] [--json]\n"
      "       photon-sim bench --runtime --quant [--sizes ...] [--threads N] [--reps N] [--link-mbps M] [--json]\n"
      "       photon-sim bench --link --tcp [--sizes 125m] [--reps N] [--json]",
      "Measures training throughput (tokens/s, GFLOP/s) for one model configuration.\n"
      "--runtime: the runtime's cost per round (aggregation, outer step) next to memcpy;\n"
      "--runtime --quant: update/model encodings (bf16, int8, fp4) next to memcpy, and\n"
      "what they save on a link of M Mbit/s (default 1000);\n"
      "--link: dispatch and shared-memory transfer next to memcpy; tiny to 125M, K updates.\n"
      "--link --tcp: one model-sized blob over loopback TCP, clear and inside TLS, next to memcpy.\n"
      "--json prints one JSON object (per size for --runtime and --link)." },
    { "sweep", "photon-sim sweep EXPERIMENT.ini --grid section.key=v1,v2,... [--grid ...] [--seeds N] [--set section.key=value ...] [--verbose]",
      "Runs every point of the grid (every combination of the --grid values, each\n"
      "with seeds run.seed, run.seed+1, ... run.seed+N-1) one after another, each as a\n"
      "normal run in its own run directory <out_dir>/<point>, named after the point\n"
      "(e.g. lr=0.001,seed=7; the key without its section, characters other than\n"
      "letters, digits and ._+- as _). <out_dir>/sweep.json lists the points and their\n"
      "state. Run again, it skips completed points, continues interrupted ones\n"
      "(--resume) and retries failed ones; it goes on past a failed point and exits 1\n"
      "if any failed. Ctrl-C stops the current point cleanly and the sweep. Points\n"
      "share <out_dir>/data unless the grid varies a [data] key. The experiment must\n"
      "stay the same for an out_dir; the grid may grow (new points are added).\n"
      "  --grid section.key=v1,v2  one axis of the grid (repeatable)\n"
      "  --seeds N                 N seeds per grid point (default 1: run.seed)\n"
      "  --set section.key=value   override a key for every point (repeatable)\n"
      "  --verbose                 the runs' output on the terminal (default: <point>/run.log)\n"
      "See docs/EXPERIMENTS.md." },
    { "compare", "photon-sim compare RUN_DIR... [--target PPL] [--json]",
      "Prints a table of runs: final validation perplexity (overall and per validation\n"
      "source), tokens, rounds and training time to reach a target perplexity, bytes\n"
      "moved and the communication reduction against per-step all-reduce. A sweep\n"
      "directory (one holding sweep.json) counts as its points, grouped over seeds as\n"
      "mean +- standard deviation.\n"
      "  --target PPL  the perplexity to reach (default: the worst final perplexity among\n"
      "                the runs, which every run reaches)\n"
      "  --json        one JSON object instead of the table\n"
      "Plots: tools/report.py RUN_DIR... -o OUT_DIR. See docs/EXPERIMENTS.md." },
    { "plan", "photon-sim plan EXPERIMENT.ini [--set section.key=value ...] [--json] [--clients]",
      "Predicts, without training or reading data, the time of a round over the\n"
      "experiment's [network] (the defaults when it has none): download, compute,\n"
      "upload and aggregation, the same work as per-step ring all-reduce data\n"
      "parallelism, and the communication reduction.  Compute comes from FLOPs per\n"
      "token over [network] tokens_per_s or device_tflops; a preset with only a\n"
      "[model] is enough (vocabulary: [model] vocab_size, else the trained\n"
      "tokenizer's size, else GPT-2's 50257).  --json prints one JSON object;\n"
      "--clients lists every client's bandwidth, latency and compute_scale instead.\n"
      "See docs/NETWORK.md." },
    { "config-reference", "photon-sim config-reference",
      "Prints the reference of every experiment-file key (Markdown), generated from the schema." },
};

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) break;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return 1;
    }
    return 0;
}

int cli_has_help(const char *cmd)
{
    for (size_t i = 0; i < sizeof helps / sizeof helps[0]; i++)
        if (strcmp(helps[i].name, cmd) == 0) return 1;
    return 0;
}

void cli_print_help_to(FILE *out, const char *cmd)
{
    if (cmd) {
        for (size_t i = 0; i < sizeof helps / sizeof helps[0]; i++)
            if (strcmp(helps[i].name, cmd) == 0) {
                fprintf(out, "usage: %s\n\n%s\n", helps[i].usage, helps[i].help);
                return;
            }
    }
    fprintf(out, "photon-sim %s: federated pre-training of GPT-2 language models\n"
            "(a C implementation of Photon, Sani et al., MLSys 2025)\n\n"
            "usage:\n", PHOTON_VERSION);
    for (size_t i = 0; i < sizeof helps / sizeof helps[0]; i++)
        fprintf(out, "  %s\n", helps[i].usage);
    fprintf(out, "\n  photon-sim --version      versions of photon-sim and its libraries\n"
            "  photon-sim COMMAND --help help for one command\n\n"
            "Exit status: 0 success, 2 usage or configuration error, 1 any other failure.\n");
}

void cli_print_help(const char *cmd)
{
    cli_print_help_to(stdout, cmd);
}

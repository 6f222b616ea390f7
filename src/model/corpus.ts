/**
 * The text the embedded tokenizer's merges are learned from: a few paragraphs about the work llmops does,
 * so common words of the domain become single tokens. Changing it changes the embedded model (bump its version).
 */
export const TOKENIZER_CORPUS = `
Once upon a time, a small language model lived on a laptop with no GPU. It could not write poems or answer hard
questions, but it was honest about what it was: a tiny GPT-2, built from a seed, with random weights. Every command
of llmops used it, and every test trusted it, because it was the same on every machine, every time.

The model server answers requests over HTTP. A client sends a prompt and asks for a stream of tokens; the server puts
the request into a queue, and the scheduler joins it to the running batch between two decode steps. The first token
arrives after the prefill; the time to first token is what a user feels. Then tokens come one by one, and the time
between tokens decides whether reading feels smooth. A good service streams faster than people read, about eleven
tokens per second or more, and it keeps doing so when many users arrive at once.

Compile before you ship. Graph optimization fuses operators, removes what is constant, and picks kernels tuned for the
hardware. TensorRT engines are built for one GPU architecture and one TensorRT version, so the engine must be built on
the hardware it will run on, or in a Kubernetes job on that node pool. ONNX Runtime can optimize a graph on the CPU, and
the optimized model must give the same logits as the source, within a small tolerance, or the build has failed.

Kubernetes scales pods on GPU metrics when CPU and memory say nothing useful. The DCGM exporter publishes GPU
utilization to Prometheus, and KEDA reads it to scale the deployment. Averaged over pods and over five minutes, the
signal does not flap. The minimum number of replicas sits a little above the base load; the maximum a little above the
peak, within the quota. Scaling up is fast; scaling down is slow, one pod every few minutes, and never faster than a new
pod takes to load its model. Rolling updates on scarce GPUs use a low surge and allow one pod to be unavailable.

Load testing finds the saturation point: add users until throughput stops rising while latency grows. Record the
latency percentiles, the requests per second, the time to first token and the tokens per second, then compute how many
replicas the peak needs and what a million tokens will cost. The cost per million tokens is the price of a GPU hour
divided by the tokens it produces in an hour, times one million.

Security matters from the first day. Access keys are compared in constant time, rate limits protect the service from a
single noisy client, and secrets never appear in logs, manifests or process arguments. Prompt injection is mitigated,
not solved; a model can leak what it was trained on, so treat every served model as able to do so.

The quick brown fox jumps over the lazy dog. Hello, world! Numbers like 1, 2, 3, 10, 42, 100 and 2026 appear in logs;
so do words such as request, response, stream, token, batch, queue, latency, throughput, replica, node, pod, model,
engine, server, client, metric, config, deploy, bench, compile, scaffold, generate, prompt, text, and data.
`;

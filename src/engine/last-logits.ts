import { beforeCasts, producersOf, type GraphEdit, type OnnxGraph, type OnnxNode } from './onnx-outputs.js';

/**
 * The graph input through which the engine names the positions whose logits it needs, one per row: row r's index
 * into the run's rows × positions, r × positions + position (see lastLogitsEdit). Empty when a run needs none.
 */
export const LOGITS_INDEX_INPUT = 'llmops_logits_index';

/**
 * An edit that computes the logits of one position per row instead of every position of the run: a prefill only ever
 * samples from its last token, and the language-model head (hidden × vocabulary) of every other position is wasted.
 * On an 80M Llama with a 32,000-token vocabulary it was a third of a 512-token prefill and 41% of a 128-token one, and
 * the logits of a 1,024-token prompt alone weigh 131 MB; at 128,256 tokens (Llama 3) the head is a fifth of a 1B
 * model's work. The hidden states are laid out as [rows × positions, 1, hidden], the rows named by
 * LOGITS_INDEX_INPUT gathered, and the head multiplies those: [named, 1, vocabulary]. Naming none skips the head,
 * weights and all: a chunk before a prompt's last samples nothing. Every operator here exists since opset 5.
 * Null when the logits aren't a MatMul of the hidden states (perhaps cast), e.g. a merged decoder's If.
 */
export function lastLogitsEdit(graph: OnnxGraph): GraphEdit | null {
  const producers = producersOf(graph.nodes);
  const head = producers.get(beforeCasts(producers, 'logits'));
  if (!head || head.opType !== 'MatMul' || head.domain || head.inputs.length !== 2) return null;
  const [hidden, weights] = head.inputs as [string, string];
  if (graph.initializers.has(hidden) || graph.inputs.includes(hidden)) return null;
  const value = (part: string) => `llmops.last_logits.${part}`;
  const nodes: OnnxNode[] = [
    // [rows, positions, hidden] → [rows × positions, 1, hidden]: -1 is rows × positions, 0 copies the hidden size.
    { opType: 'Reshape', inputs: [hidden, value('shape')], outputs: [value('flat')], attributes: {} },
    {
      opType: 'Gather',
      inputs: [value('flat'), LOGITS_INDEX_INPUT],
      outputs: [value('hidden')],
      attributes: { axis: 0 },
    },
    { opType: 'MatMul', inputs: [value('hidden'), weights], outputs: [head.outputs[0]!], attributes: {} },
  ];
  return {
    outputs: [],
    dropNodes: new Set([head.outputs[0]!]),
    nodes,
    constants: [{ name: value('shape'), values: [-1n, 1n, 0n] }],
    int64Inputs: [LOGITS_INDEX_INPUT],
  };
}

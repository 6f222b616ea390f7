import { beforeCasts, producersOf, type GraphEdit, type OnnxGraph, type OnnxNode } from './onnx-outputs.js';

/**
 * The graph input through which the engine names, per row, the one position whose logits it needs: row r's index
 * into the run's rows × positions, r × positions + position (see lastLogitsEdit).
 */
export const LOGITS_INDEX_INPUT = 'llmops_logits_index';

/**
 * An edit that computes the logits of one position per row instead of every position of the run: a prefill only ever
 * samples from its last token, and the language-model head (hidden × vocabulary) of every other position is wasted.
 * On an 80M Llama with a 32,000-token vocabulary it was a third of a 512-token prefill and 41% of a 128-token one, and
 * the logits of a 1,024-token prompt alone weigh 131 MB; at 128,256 tokens (Llama 3) the head is a fifth of a 1B
 * model's work. The hidden states are flattened to [rows × positions, hidden], the rows named by LOGITS_INDEX_INPUT
 * gathered, and the head multiplies those: [rows, 1, vocabulary]. Every operator here exists since opset 5.
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
    { opType: 'Flatten', inputs: [hidden], outputs: [value('flat')], attributes: { axis: 2 } },
    {
      opType: 'Gather',
      inputs: [value('flat'), LOGITS_INDEX_INPUT],
      outputs: [value('rows')],
      attributes: { axis: 0 },
    },
    { opType: 'Reshape', inputs: [value('rows'), value('shape')], outputs: [value('hidden')], attributes: {} },
    { opType: 'MatMul', inputs: [value('hidden'), weights], outputs: [head.outputs[0]!], attributes: {} },
  ];
  return {
    outputs: [],
    dropNodes: new Set([head.outputs[0]!]),
    nodes,
    // [rows, 1, hidden]: 0 keeps the gathered rows, -1 is the hidden size.
    constants: [{ name: value('shape'), values: [0n, 1n, -1n] }],
    int64Inputs: [LOGITS_INDEX_INPUT],
  };
}

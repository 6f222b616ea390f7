/**
 * What `llmops deploy --emit` adds besides the service: a GKE node auto-provisioning config, a compile Job. A module of
 * its own so that the CLI can offer the choices without loading the manifest builders.
 */
export const EMITS = ['nap', 'compile-job'] as const;
export type Emit = (typeof EMITS)[number];

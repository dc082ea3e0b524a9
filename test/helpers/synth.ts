/** The synthesis helpers live with the local runner, which needs them too. */
export * from '../../local/synth.js';

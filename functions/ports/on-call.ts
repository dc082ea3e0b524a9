/** Who an on-call endpoint says is on call. */
export interface OnCallAnswer {
  readonly onCall: readonly string[];
  /** What answered, for the evidence (URL and HTTP status). */
  readonly source: string;
}

/** An HTTP endpoint that says who is on call (functions/adapters/http-oncall.ts). */
export interface OnCallDirectory {
  /** Throws when the endpoint cannot be reached or answers nonsense; the gate records why. */
  whoIsOnCall(endpoint: { readonly url: string; readonly timeoutSeconds: number }): Promise<OnCallAnswer>;
}

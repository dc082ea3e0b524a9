/** asl-validator 4 ships no types: `module.exports = function validator(definition, opts)`. */
declare module 'asl-validator' {
  interface AslValidatorOptions {
    readonly checkPaths?: boolean;
    readonly checkArn?: boolean;
  }
  interface AslValidatorResult {
    readonly isValid: boolean;
    readonly errors: readonly { readonly 'Error code': string; readonly Message: string }[];
    errorsText(separator?: string): string;
  }
  function aslValidator(definition: unknown, opts?: AslValidatorOptions): AslValidatorResult;
  export default aslValidator;
}

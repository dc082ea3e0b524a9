/**
 * The output variables the tests action of a release pipeline exports (CodeBuild buildspec
 * `env.exported-variables`), which CodePipeline records with the action execution
 * (ListActionExecutions' `actionExecutionDetails[].output.outputVariables`). The release pipeline
 * example (infra/examples/codepipeline-release.ts) exports them; the "tests provenance" gate reads
 * them. One source of truth for both.
 */
export const TESTS_OUTPUT_VARIABLES = {
  /** `true` when the test command exited 0 in that build; anything else is not a pass. */
  testsPassed: 'TPS_TESTS_PASSED',
  /** The image the build pushed and tested, exactly as the release must name it. */
  image: 'TPS_IMAGE',
} as const;

/** Manifest validation: the rule registry, the image policy and the engine behind `validate`. */
export * from './types.js';
export { RULE_IDS, RULE_REGISTRY, ruleById, runRules, type RunRulesOptions } from './rules.js';
export { CONFIG_FILE, DEFAULT_POLICY, checkImage, globToRegExp, imageRepository, loadImagePolicy, parseConfig, type ImagePolicy } from './image-policy.js';
export { loadSchemaValidator, type SchemaValidator } from './schema.js';
export { judgeText, type FileReport, type JudgeOptions, type LocatedFinding, type SkipNote } from './engine.js';

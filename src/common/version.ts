// The package version, read once from package.json (two directories above both src/common/ and dist/common/).
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const VERSION: string = (require('../../package.json') as { version: string }).version;

/** The public surface of src/errors. */
export { ChainError, type ChainErrorCode } from './chain-error';

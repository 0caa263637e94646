/** The public surface of src/log. */
export { chainLogger, createLogger, type Logger } from './logger';

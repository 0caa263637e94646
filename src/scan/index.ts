/** The scanner's public surface. */
export * from './types';

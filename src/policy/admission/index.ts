export { buildAdmissionServer } from './server';
export { ImageAdmission } from './image-admission';
export { signatureCheckFromVerifier } from './signature-check';
export { admissionDepsFromConfig, admissionRedis, allowedRegistries } from './from-config';

export { buildAdmissionServer, type AdmissionServerDeps } from './server';
export { ImageAdmission, DEFAULT_CACHE, type CacheSettings, type ImageAdmissionDeps, type ImageVerdict } from './image-admission';
export { signatureCheckFromVerifier, spkiKeyId, type SignatureCheck, type SignatureFacts, type VerificationReportLike } from './signature-check';
export { podImages, type ContainerImage } from './pod-images';
export { admissionReviewSchema, type AdmissionReview, type AdmissionResponse } from './admission-review';
export { admissionDepsFromConfig, admissionRedis, allowedRegistries } from './from-config';
export { admissionConfigSchema, checkDeadlineOf, type AdmissionConfig } from '../../config/sections/admission';

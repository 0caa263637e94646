import { z } from 'zod';

const envName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name');

/**
 * Where the signing key comes from. Secrets (passwords, PINs, key PEMs) are never written here:
 * only the names of the environment variables that hold them. Without a `key` section the key is
 * read from DCHAIN_SIGNING_KEY (PEM text) or DCHAIN_SIGNING_KEY_FILE, password DCHAIN_SIGNING_KEY_PASSWORD.
 */
export const signingKeySchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('file'),
    /** PKCS#8 PEM or cosign's encrypted key file. */
    path: z.string().min(1),
    passwordEnv: envName.default('DCHAIN_SIGNING_KEY_PASSWORD'),
  }),
  z.strictObject({
    kind: z.literal('pkcs11'),
    module: z.string().min(1),
    token: z.string().min(1),
    label: z.string().min(1),
    pinEnv: envName.default('DCHAIN_PKCS11_PIN'),
  }),
]);

export const signingSchema = z.strictObject({
  key: signingKeySchema.optional(),
  /** PEM files of public keys whose signatures `dchain verify` and admission accept. */
  trustedKeys: z.array(z.string().min(1)).default([]),
  /** Added to every image signature's `optional` section. */
  annotations: z.record(z.string().min(1), z.string()).default({}),
});

export type SigningKeyConfig = z.infer<typeof signingKeySchema>;

import { z } from 'zod';
import { policySchema } from './policy-schema';

/** JSON Schema (draft 2020-12) of the policy file as written, for editors and CI linting. */
export function policyJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(policySchema, { io: 'input', unrepresentable: 'any' }),
    $id: 'https://delivery-chain.dev/schemas/image-policy-v1.json',
    title: 'delivery-chain image policy',
  };
}

/** The public surface of src/demo. */
export { pushDemoImages } from './images';

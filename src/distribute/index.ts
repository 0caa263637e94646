/** The public surface of src/distribute. */
export { NotificationLog } from './notification-log';
export { notifySubscriber } from './notifier';
export { expandPromotionTags } from './promotion-tags';

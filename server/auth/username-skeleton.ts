/**
 * The confusable skeleton of a username (Unicode UTS #39 §4): NFD, every character replaced by its
 * prototype from Unicode's confusables.txt, NFD again. Two names with the same skeleton look alike
 * ("paypal" with a Cyrillic "р" and "а", "rn" and "m"), so a name whose skeleton equals an existing
 * account's is refused like a taken name. The mapping comes from the `unhomoglyph` package (Unicode's
 * confusables.txt as a table); users.username_skeleton stores the result, unique, so the check is one
 * index lookup and a race between two look-alike registrations loses on the index.
 */
import unhomoglyph from "unhomoglyph";

export function usernameSkeleton(normalizedUsername: string): string {
  return unhomoglyph(normalizedUsername.normalize("NFD")).normalize("NFD");
}

/* Placeholder while this group is written: an integration test that does
 * not exist yet must not pass. */
#include <stdio.h>

int main(void)
{
	fprintf(stderr, "not written yet\n");
	return 99;
}
